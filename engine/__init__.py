"""The evaluation engine: setups, tasks, prompts, backends, scoring, cache, statistics. Never imports Textual."""
