"""A local stand-in for the Hugging Face Hub API, as the huggingface_hub client uses it."""

from tests.fakehub.server import FakeHub, Fault

__all__ = ["FakeHub", "Fault"]
