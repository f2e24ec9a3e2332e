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
