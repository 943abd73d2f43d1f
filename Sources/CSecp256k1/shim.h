#ifndef COPYBOT_CSECP256K1_SHIM_H
#define COPYBOT_CSECP256K1_SHIM_H

#include <stddef.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

/// SECP256K1_CONTEXT_NONE is a macro expression Swift does not import.
static inline unsigned int copybot_secp256k1_context_none(void) { return SECP256K1_CONTEXT_NONE; }

/// The library's static, read-only context (for verification and recovery). The exported
/// variable imports as shared mutable state, which Swift 6 rejects; a function does not.
static inline const secp256k1_context *copybot_secp256k1_context_static(void) { return secp256k1_context_static; }

/// SECP256K1_EC_UNCOMPRESSED, for the same reason.
static inline unsigned int copybot_secp256k1_ec_uncompressed(void) { return SECP256K1_EC_UNCOMPRESSED; }

/// Overwrites `length` bytes at `pointer` with zeros in a way the optimiser may not remove
/// (writes through a volatile pointer, then a compiler barrier).
static inline void copybot_secure_zero(void *pointer, size_t length) {
    volatile unsigned char *p = (volatile unsigned char *)pointer;
    while (length--) { *p++ = 0; }
    __asm__ __volatile__("" : : "r"(pointer) : "memory");
}

#endif
