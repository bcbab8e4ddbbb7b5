"""The app's screens, one per file (frogmouth / harlequin layout)."""
