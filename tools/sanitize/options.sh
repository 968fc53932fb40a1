# Sourced by tools/check.sh --sanitize: the sanitizer options of the
# sanitized lit suite. Every report fails its test: ASan and UBSan halt on
# the first one, and LeakSanitizer stays on (no leak suppressions needed).
# The exceptions are build flags, in tools/check.sh: UBSan's vptr check
# (LLVM and MLIR have no RTTI) and LLVM's allocator poisoning
# (tools/sanitize/llvm-allocator.h). The kernels the JIT builds and dlopens
# are not instrumented.
ASAN_OPTIONS="halt_on_error=1:detect_leaks=1"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS UBSAN_OPTIONS
