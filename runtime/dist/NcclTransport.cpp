//===- NcclTransport.cpp - the collectives over NCCL ----------------------===//
// The all-to-all as grouped ncclSend/ncclRecv (NCCL has no alltoallv) and
// ncclAllGather, on the caller's ncclComm_t and stream, device memory.
// libnccl.so.2 (or $ATTN_LIBNCCL) is loaded at run time, like the CUDA
// driver, so libattndist links no CUDA library; nccl.h (the CUDA toolkit's)
// is needed at build time for the types only.
//===----------------------------------------------------------------------===//
#include "runtime/core/Internal.h"
#include "runtime/dist/Transport.h"

#include <cstdlib>
#include <string>

using namespace attn::dist;

#ifdef ATTN_DIST_NCCL
#include <dlfcn.h>
#include <nccl.h>

namespace {

struct Nccl {
  ncclResult_t (*commCount)(const ncclComm_t, int *);
  ncclResult_t (*commUserRank)(const ncclComm_t, int *);
  ncclResult_t (*groupStart)();
  ncclResult_t (*groupEnd)();
  ncclResult_t (*send)(const void *, size_t, ncclDataType_t, int, ncclComm_t,
                       cudaStream_t);
  ncclResult_t (*recv)(void *, size_t, ncclDataType_t, int, ncclComm_t,
                       cudaStream_t);
  ncclResult_t (*allGather)(const void *, void *, size_t, ncclDataType_t,
                            ncclComm_t, cudaStream_t);
  const char *(*errorString)(ncclResult_t);
};

/// The library, loaded once; null and `error` set when it cannot be.
const Nccl *loadNccl(std::string &error) {
  static Nccl nccl;
  static std::string loadError;
  static bool loaded = [] {
    const char *path = std::getenv("ATTN_LIBNCCL");
    void *h = dlopen(path ? path : "libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      loadError = std::string("cannot load ") + (path ? path : "libnccl.so.2") +
                  ": " + dlerror();
      return false;
    }
    struct {
      const char *name;
      void **slot;
    } syms[] = {{"ncclCommCount", (void **)&nccl.commCount},
                {"ncclCommUserRank", (void **)&nccl.commUserRank},
                {"ncclGroupStart", (void **)&nccl.groupStart},
                {"ncclGroupEnd", (void **)&nccl.groupEnd},
                {"ncclSend", (void **)&nccl.send},
                {"ncclRecv", (void **)&nccl.recv},
                {"ncclAllGather", (void **)&nccl.allGather},
                {"ncclGetErrorString", (void **)&nccl.errorString}};
    for (auto &s : syms)
      if (!(*s.slot = dlsym(h, s.name))) {
        loadError = std::string("libnccl has no ") + s.name;
        return false;
      }
    return true;
  }();
  error = loadError;
  return loaded ? &nccl : nullptr;
}

class NcclTransport final : public Transport {
public:
  NcclTransport(const Nccl &nccl, ncclComm_t comm, cudaStream_t stream, int me,
                int ranks)
      : nccl(nccl), comm(comm), stream(stream), me(me), ranks(ranks) {}
  int rank() const override { return me; }
  int size() const override { return ranks; }
  bool onDevice() const override { return true; }

  attn_status allToAll(const char *send, const std::vector<uint64_t> &sendBytes,
                       const std::vector<uint64_t> &sendOffsets, char *recv,
                       const std::vector<uint64_t> &recvBytes,
                       const std::vector<uint64_t> &recvOffsets) override {
    if (ncclResult_t r = nccl.groupStart())
      return failed(r, "ncclGroupStart");
    for (int p = 0; p < ranks; ++p) {
      // A failure inside the group still closes it, so the caller's later
      // NCCL calls do not join it.
      if (sendBytes[size_t(p)])
        if (ncclResult_t r = nccl.send(send + sendOffsets[size_t(p)],
                                       sendBytes[size_t(p)], ncclUint8, p, comm,
                                       stream)) {
          nccl.groupEnd();
          return failed(r, "ncclSend");
        }
      if (recvBytes[size_t(p)])
        if (ncclResult_t r = nccl.recv(recv + recvOffsets[size_t(p)],
                                       recvBytes[size_t(p)], ncclUint8, p, comm,
                                       stream)) {
          nccl.groupEnd();
          return failed(r, "ncclRecv");
        }
    }
    if (ncclResult_t r = nccl.groupEnd())
      return failed(r, "ncclGroupEnd");
    return ATTN_OK;
  }

  attn_status allGather(const void *send, uint64_t bytes, void *recv) override {
    if (ncclResult_t r = nccl.allGather(send, recv, bytes, ncclUint8, comm,
                                        stream))
      return failed(r, "ncclAllGather");
    return ATTN_OK;
  }

private:
  attn_status failed(ncclResult_t r, const char *what) {
    return attnrt::fail(ATTN_ERROR_INTERNAL,
                        std::string(what) + " failed: " + nccl.errorString(r));
  }
  const Nccl &nccl;
  ncclComm_t comm;
  cudaStream_t stream;
  int me, ranks;
};

} // namespace

attn_status attn::dist::createNcclTransport(void *ncclComm, void *stream,
                                            std::unique_ptr<Transport> &out) {
  std::string error;
  const Nccl *nccl = loadNccl(error);
  if (!nccl)
    return attnrt::fail(ATTN_ERROR_NO_DEVICE, "attn_comm_create_nccl: " + error);
  auto comm = static_cast<ncclComm_t>(ncclComm);
  int me = 0, ranks = 0;
  if (ncclResult_t r = nccl->commUserRank(comm, &me))
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        std::string("ncclCommUserRank: ") + nccl->errorString(r));
  if (ncclResult_t r = nccl->commCount(comm, &ranks))
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        std::string("ncclCommCount: ") + nccl->errorString(r));
  out = std::make_unique<NcclTransport>(*nccl, comm,
                                        static_cast<cudaStream_t>(stream), me,
                                        ranks);
  return ATTN_OK;
}

#else

attn_status attn::dist::createNcclTransport(void *, void *,
                                            std::unique_ptr<Transport> &) {
  return attnrt::fail(ATTN_ERROR_UNSUPPORTED,
                      "libattndist was built without NCCL's header (nccl.h, "
                      "the CUDA toolkit's)");
}

#endif
