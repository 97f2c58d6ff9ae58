"""Exceptions of the demo runner; each message is meant for the person who clicked Try it."""


class DemoError(Exception):
    """Base class: a demo could not be built or run."""

    status = 422


class UnsupportedArchitecture(DemoError):
    def __init__(self, model_type: str | None, repo_id: str) -> None:
        super().__init__(
            f"{repo_id}: architecture {model_type or 'unknown'!r} cannot be converted to CTranslate2 "
            "(supported: llama, mistral, falcon, mpt, gpt_neox, gpt_bigcode, codegen, bloom, gpt2, gptj, opt, "
            "phi, qwen2, gemma, t5 and more; see demo_runner/eligibility.py)"
        )
        self.model_type = model_type


class TooLarge(DemoError):
    pass


class RemoteCodeRefused(DemoError):
    pass


class NeedsLogin(DemoError):
    status = 401


class NeedsTermsAccepted(DemoError):
    status = 403


class HubUnreachable(DemoError):
    status = 503


class NotOnHub(DemoError):
    status = 404


class ConversionFailed(DemoError):
    pass


class BadGenerationRequest(DemoError):
    status = 422


class BuildCancelled(DemoError):
    """The job was deleted while its build ran; not a failure anyone needs to see."""

    status = 410


class DemoBusy(DemoError):
    """Too much is running already; the client should retry after `retry_after` seconds."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PromptTooLong(DemoError):
    def __init__(self, prompt_tokens: int, max_tokens: int, context: int) -> None:
        super().__init__(
            f"the prompt is {prompt_tokens} tokens and max_tokens is {max_tokens}, but the model's "
            f"context holds {context} tokens: shorten the conversation"
            + (
                f" or lower max_tokens to {context - prompt_tokens}"
                if prompt_tokens < context
                else ""
            )
        )
        self.prompt_tokens, self.max_tokens, self.context = prompt_tokens, max_tokens, context


class GenerationTimedOut(DemoError):
    status = 504


class DemoCacheUnwritable(DemoError):
    status = 503


class DemoBackendUnavailable(DemoError):
    """The demo backend cannot take work now (the Ray cluster is down, or demos are off)."""

    status = 503


class ReplicaLost(DemoError):
    """The replica answering a request stopped before the answer was complete."""

    status = 503


class ModelNotConverted(DemoError):
    """A ready demo's converted model left the cache (evicted); it must be built again."""

    status = 409


class RemoteDemoError(DemoError):
    """A demo error raised where the model runs (a Ray replica), with its status and kind there."""

    def __init__(self, message: str, status: int, kind: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind  # the class name on the replica, e.g. GenerationTimedOut
