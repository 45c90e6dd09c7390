"""placeholder"""


async def search(*args, **kwargs):  # type: ignore
    raise NotImplementedError
