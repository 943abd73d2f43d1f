#ifndef COPYBOT_FUZZ_DRIVER_H
#define COPYBOT_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (LLVM 11+): runs the fuzzing loop with `callback` and the command line.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
