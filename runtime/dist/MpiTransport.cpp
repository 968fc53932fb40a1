//===- MpiTransport.cpp - the collectives over MPI ------------------------===//
// MPI_Alltoallv and MPI_Allgather on a duplicate of the caller's
// communicator (so this library's messages never match the caller's), on
// host memory. Built where CMake finds MPI (Debian's Open MPI:
// libopenmpi-dev); otherwise attn_comm_create_mpi says so.
//===----------------------------------------------------------------------===//
#include "runtime/core/Internal.h"
#include "runtime/dist/Transport.h"

#include <climits>
#include <string>

using namespace attn::dist;

#ifdef ATTN_DIST_MPI
#include <mpi.h>

namespace {

attn_status mpiFail(int code, const char *what) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return attnrt::fail(ATTN_ERROR_INTERNAL,
                      std::string(what) + " failed: " + std::string(text, size_t(length)));
}

class MpiTransport final : public Transport {
public:
  explicit MpiTransport(MPI_Comm comm) : comm(comm) {
    MPI_Comm_rank(comm, &me);
    MPI_Comm_size(comm, &ranks);
  }
  ~MpiTransport() override { MPI_Comm_free(&comm); }
  int rank() const override { return me; }
  int size() const override { return ranks; }
  bool onDevice() const override { return false; }
  uint64_t maxBytes() const override { return uint64_t(INT_MAX); }

  attn_status allToAll(const char *send, const std::vector<uint64_t> &sendBytes,
                       const std::vector<uint64_t> &sendOffsets, char *recv,
                       const std::vector<uint64_t> &recvBytes,
                       const std::vector<uint64_t> &recvOffsets) override {
    // MPI_Alltoallv counts bytes in ints.
    std::vector<int> sc(static_cast<size_t>(ranks)), so(sc.size()), rc(sc.size()),
        ro(sc.size());
    for (size_t p = 0; p < sc.size(); ++p) {
      for (uint64_t x : {sendBytes[p], sendOffsets[p], recvBytes[p],
                         recvOffsets[p]})
        if (x > uint64_t(INT_MAX))
          return attnrt::fail(ATTN_ERROR_UNSUPPORTED,
                              "sequence parallelism over MPI: an exchange of "
                              "more than 2 GiB per rank (MPI_Alltoallv "
                              "counts bytes in int); use more ranks");
      sc[p] = int(sendBytes[p]);
      so[p] = int(sendOffsets[p]);
      rc[p] = int(recvBytes[p]);
      ro[p] = int(recvOffsets[p]);
    }
    int e = MPI_Alltoallv(send, sc.data(), so.data(), MPI_BYTE, recv, rc.data(),
                          ro.data(), MPI_BYTE, comm);
    return e == MPI_SUCCESS ? ATTN_OK : mpiFail(e, "MPI_Alltoallv");
  }

  attn_status allGather(const void *send, uint64_t bytes, void *recv) override {
    if (bytes > uint64_t(INT_MAX) / uint64_t(ranks))
      return attnrt::fail(ATTN_ERROR_UNSUPPORTED,
                          "sequence parallelism over MPI: an all-gather of "
                          "more than 2 GiB");
    int e = MPI_Allgather(send, int(bytes), MPI_BYTE, recv, int(bytes),
                          MPI_BYTE, comm);
    return e == MPI_SUCCESS ? ATTN_OK : mpiFail(e, "MPI_Allgather");
  }

private:
  MPI_Comm comm;
  int me = 0, ranks = 1;
};

} // namespace

attn_status attn::dist::createMpiTransport(const void *mpiComm,
                                           std::unique_ptr<Transport> &out) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised)
    return attnrt::fail(ATTN_ERROR_INVALID_ARGUMENT,
                        "attn_comm_create_mpi: MPI is not initialised "
                        "(MPI_Init first)");
  MPI_Comm dup;
  int e = MPI_Comm_dup(*static_cast<const MPI_Comm *>(mpiComm), &dup);
  if (e != MPI_SUCCESS)
    return mpiFail(e, "MPI_Comm_dup");
  out = std::make_unique<MpiTransport>(dup);
  return ATTN_OK;
}

#else

attn_status attn::dist::createMpiTransport(const void *,
                                           std::unique_ptr<Transport> &) {
  return attnrt::fail(ATTN_ERROR_UNSUPPORTED,
                      "libattndist was built without MPI (install Open MPI, "
                      "libopenmpi-dev, and rebuild)");
}

#endif
