"""Edit me while the workers run: change what process() returns, and save."""


def process(job: int) -> str:
    return f"squared {job * job}"
