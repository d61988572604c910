from mdocument import Document, Field, init


class User(Document):
    name: str = Field(unique=True)
    email: str = Field(unique=True, sensitive=True)


async def test_smoke(database, commands):
    await init(database, models=[User])
    user = await User.create(name="Ada", email="ada@example.com")
    again = await User.get(user.id)
    assert again == user
    again.name = "Ada L"
    commands.clear()
    await again.save()
    print(commands.of("update"))
    try:
        await User.create(name="Ada L", email="x@y")
    except User.DuplicateError as e:
        print(e)
    try:
        await User.create(name="Bob", email="ada@example.com")
    except User.DuplicateError as e:
        print(e)
    print(await User.many())
