//===- AttnBase.td - the attn dialect definition ----------------*- tablegen -*-===//
// The attn dialect: long-context attention patterns as first-class ops.
//===----------------------------------------------------------------------===//
#ifndef ATTN_BASE_TD
#define ATTN_BASE_TD

include "mlir/IR/OpBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let summary = "Attention patterns of long-context models (dense, causal, "
                "sliding window, block-causal, dilated, landmark, lightning)";
  let description = [{
    The `attn` dialect expresses one attention computation per op, with the
    pattern of allowed (query, key) pairs carried by an attribute that knows its
    own block structure (`AttnPatternAttrInterface`).

    Operands are memrefs in destination-passing style: the op reads Q, K, V
    and writes O (and LSE) in place. Memrefs rather than tensors because
    (1) SPEC requires any strides, so `[B, N, H, D]` storage is a strided view
    of `[B, H, N, D]` without a copy, which memref layouts express directly;
    (2) the kernels are leaf computations called from the runtime with
    caller-owned buffers, so there is nothing for bufferization to decide and
    no pass to run before tiling; (3) the tiled form indexes sub-views of the
    same buffers on the CPU and the GPU.
  }];
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    /// Defined next to the attributes (their storage is private there).
    void registerAttributes();
  }];
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_BASE_TD
