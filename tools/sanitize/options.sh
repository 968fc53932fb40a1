# Sourced by tools/check.sh --sanitize: the sanitizer options of the
# sanitized lit suite. Every report fails its test (halt on the first one,
# UBSan included); each exception is named here with its reason.
ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0"
UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS UBSAN_OPTIONS
