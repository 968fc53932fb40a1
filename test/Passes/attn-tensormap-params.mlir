// RUN: attn-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(gpu.module(attn-tensormap-params))' | FileCheck %s

// The trailing attn.tensormaps arguments of an NVVM kernel become 128-byte
// byval grid constants; the others and the other functions are untouched.
// CHECK-LABEL: llvm.func @k(
// CHECK-SAME: %{{.*}}: !llvm.ptr<1>,
// CHECK-SAME: %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant},
// CHECK-SAME: %{{.*}}: !llvm.ptr {llvm.align = 64 : i64, llvm.byval = !llvm.array<128 x i8>, nvvm.grid_constant})
// CHECK-NOT: attn.tensormaps
// CHECK-LABEL: llvm.func @plain(%{{.*}}: !llvm.ptr)
module attributes {gpu.container_module} {
  gpu.module @m {
    llvm.func @k(%out: !llvm.ptr<1>, %a: !llvm.ptr, %b: !llvm.ptr) attributes {attn.tensormaps = 2 : i64, nvvm.kernel} {
      llvm.return
    }
    llvm.func @plain(%a: !llvm.ptr) attributes {nvvm.kernel} {
      llvm.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @m {
    // expected-error @+1 {{attn.tensormaps = 3 needs an NVVM kernel with that many trailing arguments}}
    llvm.func @k(%a: !llvm.ptr) attributes {attn.tensormaps = 3 : i64, nvvm.kernel} {
      llvm.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @m {
    // expected-error @+1 {{tensor map argument 0 is not a pointer}}
    llvm.func @k(%a: i64) attributes {attn.tensormaps = 1 : i64, nvvm.kernel} {
      llvm.return
    }
  }
}
