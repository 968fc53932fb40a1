//===- Architectures.h - the model classes loadModel() picks ----*- C++ -*-===//
#ifndef ATTN_TOOLS_MODEL_ARCHITECTURES_H
#define ATTN_TOOLS_MODEL_ARCHITECTURES_H

#include "tools/attn-model/Model.h"

namespace attnmodel {

/// llama, longnet, landmark and hierarchical (Llama.cpp): softmax
/// attention over KV caches.
std::unique_ptr<Model> createSoftmaxModel(const SafeTensors &st, Ops &ops,
                                          attn_context *ctx,
                                          const RunOptions &run);
/// transnormer (TransNormer.cpp): lightning attention, recurrent state.
std::unique_ptr<Model> createTransNormer(const SafeTensors &st, Ops &ops,
                                         attn_context *ctx,
                                         const RunOptions &run);

} // namespace attnmodel

#endif
