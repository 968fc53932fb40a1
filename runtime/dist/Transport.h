//===- Transport.h - the collectives sequence parallelism needs -*- C++ -*-===//
// Two collectives over the caller's communicator: an all-to-all of variable
// byte counts (the dilated exchange) and an all-gather of equal ones (the
// lightning states). MpiTransport.cpp and NcclTransport.cpp implement them;
// the algorithms (SeqParallel.cpp) are written once over this interface.
//===----------------------------------------------------------------------===//
#ifndef ATTN_RUNTIME_DIST_TRANSPORT_H
#define ATTN_RUNTIME_DIST_TRANSPORT_H

#include "runtime/attndist.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace attn::dist {

class Transport {
public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Whether the buffers are device memory (NCCL) rather than host memory.
  virtual bool onDevice() const = 0;
  /// The most bytes one rank may send or receive in one allToAll.
  virtual uint64_t maxBytes() const { return UINT64_MAX; }
  /// Rank p's bytes [sendOffsets[q], + sendBytes[q]) of `send` go to rank
  /// q's [recvOffsets[p], + recvBytes[p]) of `recv`.
  virtual attn_status allToAll(const char *send,
                               const std::vector<uint64_t> &sendBytes,
                               const std::vector<uint64_t> &sendOffsets,
                               char *recv,
                               const std::vector<uint64_t> &recvBytes,
                               const std::vector<uint64_t> &recvOffsets) = 0;
  /// recv[p * bytes, + bytes) = rank p's `bytes` at send, on every rank.
  virtual attn_status allGather(const void *send, uint64_t bytes,
                                void *recv) = 0;
};

/// The transports (nullptr and the reason in attn_last_error() on failure).
attn_status createMpiTransport(const void *mpiComm,
                               std::unique_ptr<Transport> &out);
attn_status createNcclTransport(void *ncclComm, void *stream,
                                std::unique_ptr<Transport> &out);

} // namespace attn::dist

/// The handle behind attn_comm.
struct attn_comm {
  std::unique_ptr<attn::dist::Transport> transport;
};

#endif
