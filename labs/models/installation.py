"""This installation of Wirelab: the key that tags everything it makes."""

from django.db import models


def _new_installation_key() -> str:
    import secrets

    return secrets.token_hex(4)


class Installation(models.Model):
    """This installation (its database): one row whose key marks every container and fabric
    namespace its lab hosts make, so that garbage collection never takes another's."""

    key = models.CharField(max_length=16, default=_new_installation_key, editable=False)

    def __str__(self) -> str:
        return f"installation {self.key}"

    @classmethod
    def current_key(cls) -> str:
        return cls.objects.get_or_create(pk=1)[0].key
