"""Keys on a token (Kaztoken, eToken, JaCarta, aKey, any PKCS#11 device), reached through
python-pkcs11 (the optional extra ``qoltanba[tokens]``).

Nothing outside this package imports it unless tokens are used: a file-store ``renew`` or
``inspect`` never loads python-pkcs11 (tests/tokens/test_lazy.py). ``modules`` (finding the
PKCS#11 module) needs no python-pkcs11; ``device`` (slots, tokens, PINs) and ``keys`` (key pairs
whose private half never leaves the token) import it.

Why python-pkcs11 and not PyKCS11: it is MIT-licensed (PyKCS11 is GPL, this project Apache-2.0),
ships wheels for Linux, Windows and macOS, is typed, and raises one exception class per CKR_ code,
so CKR_PIN_INCORRECT and CKR_PIN_LOCKED are told apart without parsing messages.
"""
