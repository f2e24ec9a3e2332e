"""Values the reload treats by kind: the one "no value here" sentinel, atomic types, slots."""

from __future__ import annotations

from types import GetSetDescriptorType, MemberDescriptorType

#: Stands for "no such name" in a namespace or snapshot, where ``None`` is a value.
MISSING: object = object()

#: Values so common that sharing one by identity says nothing about where a
#: name came from: such a copy is only updated when it also has the same name,
#: and an equal old value is kept rather than replaced.
ATOMIC: tuple[type, ...] = (int, float, complex, str, bytes, bool, type(None))

#: What a class's ``__slots__`` (and its ``__dict__``/``__weakref__``) put in its
#: namespace: tied to the class's instance layout, never copied to another class.
SLOT_DESCRIPTORS: tuple[type, ...] = (MemberDescriptorType, GetSetDescriptorType)


def is_a(value: object, kinds: type | tuple[type, ...]) -> bool:
    """``isinstance(value, kinds)`` by the value's real type, without reading its ``__class__``.

    ``isinstance`` falls back to ``value.__class__``, and a lazy object (Django's
    ``settings``, any ``LazyObject``) answers that by setting itself up — or
    raising — in the middle of a reload that only walked past it.
    """
    return issubclass(type(value), kinds)
