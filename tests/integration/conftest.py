import os, pytest
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    from scoregap.engine.tinymodel import save_tiny_model
    return save_tiny_model(tmp_path_factory.mktemp("tiny"))
