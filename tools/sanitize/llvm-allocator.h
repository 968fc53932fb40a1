/* llvm-allocator.h - forced into every ASan-instrumented translation unit
 * (-include) that uses LLVM headers against the uninstrumented libLLVM and
 * libMLIR.
 *
 * Why: LLVM's BumpPtrAllocator (llvm/Support/Allocator.h, inline) poisons
 * each new slab and unpoisons each allocation when the including code is
 * built with ASan. MLIR's uniquers share one allocator between our code
 * (attribute storage of the attn dialect, inlined into our objects) and
 * libMLIR.so (built without ASan): a slab our code opens stays poisoned for
 * libMLIR's later allocations, and the next memcpy into them is reported as
 * use-after-poison though nothing is wrong. Making the poisoning calls no-ops
 * here gives every copy of the allocator the same (uninstrumented)
 * behaviour; ASan still checks every access, heap redzones and use after
 * free as usual. */
#ifndef ATTN_TOOLS_SANITIZE_LLVM_ALLOCATOR_H
#define ATTN_TOOLS_SANITIZE_LLVM_ALLOCATOR_H
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ATTN_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(ATTN_ASAN)
#include <sanitizer/asan_interface.h>
#define __asan_poison_memory_region(addr, size) ((void)(addr), (void)(size))
#define __asan_unpoison_memory_region(addr, size) ((void)(addr), (void)(size))
#endif
#endif
