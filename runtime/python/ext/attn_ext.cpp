//===- attn_ext.cpp - the compiled fast path of attn.attention -------------===//
// `attn._ext`: the per-call work of an eager attn.attention on torch tensors
// -- reading the tensors' pointers, shapes and strides, allocating O (and
// the LSE), finding the loaded kernel, setting the caller's CUDA stream and
// calling attn_launch -- done in C++ instead of Python bytecode. It is what
// brings the package's own cost per call under 10 us (docs/python.md).
//
// It does not link torch or the runtime: tensors are read through their
// Python interface (data_ptr(), shape, stride()), and attn_launch and
// attn_context_set_stream are the function pointers of the libattnrt that
// the ctypes binding (attn/_runtime.py) loaded, handed over by init(). Every
// case it does not handle (subclasses, autograd, dispatch modes, other
// devices, numpy, ATTN_AUTOTUNE buckets) returns None, and the Python path,
// which has the complete checks and error messages, runs instead.
//===----------------------------------------------------------------------===//

#include "runtime/attnrt.h"

#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace nb = nanobind;

namespace {

using LaunchFn = attn_status (*)(attn_context *, attn_kernel *,
                                 const attn_tensor *, int);
using SetStreamFn = attn_status (*)(attn_context *, void *);

/// What init() was given. Python objects are held for the life of the
/// process (the module is never unloaded).
struct Globals {
  LaunchFn launch = nullptr;
  SetStreamFn setStream = nullptr;
  PyObject *tensorType = nullptr;           // torch.Tensor
  PyObject *dtypes[3] = {};                 // torch.float32, float16, bfloat16
  PyObject *float32 = nullptr;              // torch.float32 (the LSE's)
  PyObject *isGradEnabled = nullptr;        // torch.is_grad_enabled
  PyObject *dispatchDepth = nullptr;        // torch._C._len_torch_dispatch_stack
  PyObject *rawStream = nullptr;            // torch._C._cuda_getCurrentRawStream
  PyObject *context = nullptr;              // (device, ordinal) -> [handle, stream]
  PyObject *kernel = nullptr;               // attn._runtime.attention_kernel
  bool ready = false;
} g;

/// Loaded kernels by request, as attn._runtime.kernels holds them (which
/// this only mirrors: a miss asks it).
struct KernelKey {
  attn_context *ctx;
  std::string pattern;
  int dtype;
  int64_t d, dv;
  uint64_t scaleBits;
  bool withLse;
  bool operator==(const KernelKey &o) const {
    return ctx == o.ctx && dtype == o.dtype && d == o.d && dv == o.dv &&
           scaleBits == o.scaleBits && withLse == o.withLse &&
           pattern == o.pattern;
  }
};
struct KernelKeyHash {
  size_t operator()(const KernelKey &k) const {
    size_t h = std::hash<std::string>()(k.pattern);
    auto mix = [&h](uint64_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
    mix(reinterpret_cast<uintptr_t>(k.ctx));
    mix(static_cast<uint64_t>(k.dtype));
    mix(static_cast<uint64_t>(k.d));
    mix(static_cast<uint64_t>(k.dv));
    mix(k.scaleBits);
    mix(k.withLse);
    return h;
  }
};
std::unordered_map<KernelKey, attn_kernel *, KernelKeyHash> kernels;

/// The dtype code of a torch dtype, or -1.
int dtypeCode(PyObject *dtype) {
  for (int i = 0; i < 3; ++i)
    if (dtype == g.dtypes[i])
      return i;
  return -1;
}

/// Calls `obj.name()`; a new reference, or null with the error set.
PyObject *callMethod(PyObject *obj, PyObject *name) {
  return PyObject_CallMethodObjArgs(obj, name, nullptr);
}

struct Names {
  PyObject *dataPtr, *shape, *stride, *dtype, *requiresGrad, *isCuda,
      *getDevice, *newEmpty, *isCpu;
} names;

/// Fills `t` from the torch tensor `obj` of rank `rank`: false when it is
/// not a plain tensor of that rank with a supported dtype (the Python path
/// then reports it). Python errors propagate as nb::python_error.
bool describe(PyObject *obj, int rank, attn_tensor &t) {
  nb::object dtype = nb::steal(PyObject_GetAttr(obj, names.dtype));
  if (!dtype.is_valid())
    throw nb::python_error();
  int code = dtypeCode(dtype.ptr());
  if (code < 0)
    return false;
  nb::object shape = nb::steal(PyObject_GetAttr(obj, names.shape));
  if (!shape.is_valid())
    throw nb::python_error();
  if (PyTuple_Size(shape.ptr()) != rank)
    return false;
  nb::object strides = nb::steal(callMethod(obj, names.stride));
  nb::object ptr = nb::steal(callMethod(obj, names.dataPtr));
  if (!strides.is_valid() || !ptr.is_valid())
    throw nb::python_error();
  std::memset(&t, 0, sizeof t);
  t.data = PyLong_AsVoidPtr(ptr.ptr());
  t.dtype = static_cast<attn_dtype>(code);
  t.rank = rank;
  for (int i = 0; i < rank; ++i) {
    t.shape[i] = PyLong_AsLongLong(PyTuple_GetItem(shape.ptr(), i));
    t.strides[i] = PyLong_AsLongLong(PyTuple_GetItem(strides.ptr(), i));
  }
  if (PyErr_Occurred())
    throw nb::python_error();
  return true;
}

/// True when Python says so (a callable returning a bool / an int).
bool truthy(PyObject *callable) {
  nb::object r = nb::steal(PyObject_CallNoArgs(callable));
  if (!r.is_valid())
    throw nb::python_error();
  int v = PyObject_IsTrue(r.ptr());
  if (v < 0)
    throw nb::python_error();
  return v;
}

bool attrTrue(PyObject *obj, PyObject *name) {
  nb::object r = nb::steal(PyObject_GetAttr(obj, name));
  if (!r.is_valid())
    throw nb::python_error();
  return r.ptr() == Py_True;
}

/// The context record [handle, stream] of a device: the CPU's, or the
/// calling thread's for CUDA ordinal `ordinal` (attn._runtime.context makes
/// them; the records live in its dictionary for the life of the process).
PyObject *contextRecord(int ordinal) {
  static PyObject *cpu = nullptr;
  thread_local std::vector<PyObject *> cuda;
  if (ordinal < 0 && cpu)
    return cpu;
  if (ordinal >= 0 && ordinal < static_cast<int>(cuda.size()) && cuda[ordinal])
    return cuda[ordinal];
  nb::object rec = nb::borrow(g.context)(ordinal < 0 ? 0 : 1,
                                        ordinal < 0 ? 0 : ordinal);
  PyObject *p = rec.release().ptr(); // kept, as the runtime's dict keeps it
  if (ordinal < 0) {
    cpu = p;
  } else {
    if (ordinal >= static_cast<int>(cuda.size()))
      cuda.resize(ordinal + 1, nullptr);
    cuda[ordinal] = p;
  }
  return p;
}

attn_context *handleOf(PyObject *rec) {
  return static_cast<attn_context *>(
      PyLong_AsVoidPtr(PyList_GetItem(rec, 0)));
}

/// new_empty of `shape` like `like` (its device), in `dtype` (null: like's).
nb::object newEmpty(PyObject *like, std::initializer_list<int64_t> shape,
                    PyObject *dtype) {
  nb::list dims;
  for (int64_t d : shape)
    dims.append(d);
  nb::object fn = nb::steal(PyObject_GetAttr(like, names.newEmpty));
  if (!fn.is_valid())
    throw nb::python_error();
  nb::tuple args = nb::make_tuple(nb::tuple(dims));
  if (!dtype)
    return fn(*args);
  return fn(*args, nb::arg("dtype") = nb::borrow(dtype));
}

} // namespace

/// attn.attention's fast path: (o, lse-or-None) after a launch; an int, the
/// attn_status of a failed launch (attn_last_error has its message); None
/// when the call is not one this path takes.
static nb::object attention(nb::handle q, nb::handle k, nb::handle v,
                            const std::string &pattern, double scale,
                            bool returnLse, nb::handle out) {
  if (!g.ready)
    return nb::none();
  // Tuning on a miss keeps one kernel per shape bucket: the Python path's.
  if (const char *tune = std::getenv("ATTN_AUTOTUNE"))
    if (std::strcmp(tune, "1") == 0)
      return nb::none();
  PyObject *tensors[3] = {q.ptr(), k.ptr(), v.ptr()};
  for (PyObject *t : tensors)
    if (Py_TYPE(t) != reinterpret_cast<PyTypeObject *>(g.tensorType))
      return nb::none();
  if (!out.is_none() &&
      Py_TYPE(out.ptr()) != reinterpret_cast<PyTypeObject *>(g.tensorType))
    return nb::none();
  if (truthy(g.dispatchDepth))
    return nb::none();
  if (truthy(g.isGradEnabled))
    for (PyObject *t : tensors)
      if (attrTrue(t, names.requiresGrad))
        return nb::none();

  attn_tensor args[5];
  for (int i = 0; i < 3; ++i)
    if (!describe(tensors[i], 4, args[i]))
      return nb::none();

  // The device: every tensor on q's (the runtime cannot tell a host pointer
  // from a device one), CPU or CUDA.
  bool cuda = attrTrue(q.ptr(), names.isCuda);
  int ordinal = -1;
  if (cuda) {
    nb::object dev = nb::steal(callMethod(q.ptr(), names.getDevice));
    if (!dev.is_valid())
      throw nb::python_error();
    ordinal = static_cast<int>(PyLong_AsLong(dev.ptr()));
  }
  for (int i = 1; i < 3; ++i) {
    bool c = attrTrue(tensors[i], names.isCuda);
    if (c != cuda)
      return nb::none();
    if (c) {
      nb::object dev = nb::steal(callMethod(tensors[i], names.getDevice));
      if (!dev.is_valid())
        throw nb::python_error();
      if (PyLong_AsLong(dev.ptr()) != ordinal)
        return nb::none();
    }
  }
  if (!cuda) {
    // Not CUDA: the CPU, or a device the Python path reports (meta, ...).
    nb::object dev = nb::steal(callMethod(q.ptr(), names.getDevice));
    if (!dev.is_valid())
      throw nb::python_error();
    if (PyLong_AsLong(dev.ptr()) != -1)
      return nb::none();
    for (PyObject *t : tensors)
      if (!attrTrue(t, names.isCpu))
        return nb::none();
  }

  const int64_t B = args[0].shape[0], H = args[0].shape[1],
                Nq = args[0].shape[2], D = args[0].shape[3],
                Dv = args[2].shape[3];
  bool dilated = pattern.compare(0, 13, "#attn.dilated") == 0;
  bool withLse = returnLse || dilated;

  PyObject *rec = contextRecord(ordinal);
  attn_context *ctx = handleOf(rec);
  if (!ctx)
    return nb::none();

  uint64_t scaleBits;
  std::memcpy(&scaleBits, &scale, sizeof scale);
  KernelKey key{ctx, pattern, static_cast<int>(args[0].dtype), D, Dv,
                scaleBits, withLse};
  auto it = kernels.find(key);
  attn_kernel *kern;
  if (it != kernels.end()) {
    kern = it->second;
  } else {
    nb::object h = nb::borrow(g.kernel)(
        reinterpret_cast<uintptr_t>(ctx), pattern,
        static_cast<int>(args[0].dtype), D, Dv, scale, withLse);
    kern = static_cast<attn_kernel *>(PyLong_AsVoidPtr(h.ptr()));
    if (PyErr_Occurred())
      throw nb::python_error();
    kernels.emplace(std::move(key), kern);
  }

  // The output: stored as q is (heads-inner when q's heads are closer in
  // memory than its positions), or the caller's.
  nb::object o;
  if (out.is_none()) {
    if (args[0].strides[1] < args[0].strides[2]) {
      nb::object bnhd = newEmpty(q.ptr(), {B, Nq, H, Dv}, nullptr);
      o = nb::steal(PyObject_CallMethod(bnhd.ptr(), "transpose", "ii", 1, 2));
      if (!o.is_valid())
        throw nb::python_error();
    } else {
      o = newEmpty(q.ptr(), {B, H, Nq, Dv}, nullptr);
    }
  } else {
    o = nb::borrow(out);
    if (attrTrue(o.ptr(), names.isCuda) != cuda)
      return nb::none();
  }
  if (!describe(o.ptr(), 4, args[3]))
    return nb::none();
  int n = 4;
  nb::object lse;
  if (withLse) {
    lse = newEmpty(q.ptr(), {B, H, Nq}, g.float32);
    if (!describe(lse.ptr(), 3, args[4]))
      return nb::none();
    n = 5;
  }

  if (cuda) {
    nb::object stream = nb::borrow(g.rawStream)(ordinal);
    PyObject *cur = PyList_GetItem(rec, 1);
    if (PyObject_RichCompareBool(cur, stream.ptr(), Py_EQ) != 1) {
      attn_status s = g.setStream(ctx, PyLong_AsVoidPtr(stream.ptr()));
      if (s != ATTN_OK)
        return nb::int_(static_cast<int>(s));
      PyList_SetItem(rec, 1, stream.release().ptr());
    }
  }

  attn_status status;
  {
    nb::gil_scoped_release release;
    status = g.launch(ctx, kern, args, n);
  }
  if (status != ATTN_OK)
    return nb::int_(static_cast<int>(status));
  return nb::make_tuple(o, returnLse ? lse : nb::none());
}

static void init(uintptr_t launch, uintptr_t setStream, nb::handle tensorType,
                 nb::handle f32, nb::handle f16, nb::handle bf16,
                 nb::handle isGradEnabled, nb::handle dispatchDepth,
                 nb::handle rawStream, nb::handle context, nb::handle kernel) {
  auto keep = [](nb::handle h) { return nb::borrow(h).release().ptr(); };
  g.launch = reinterpret_cast<LaunchFn>(launch);
  g.setStream = reinterpret_cast<SetStreamFn>(setStream);
  g.tensorType = keep(tensorType);
  g.dtypes[0] = keep(f32);
  g.dtypes[1] = keep(f16);
  g.dtypes[2] = keep(bf16);
  g.float32 = g.dtypes[0];
  g.isGradEnabled = keep(isGradEnabled);
  g.dispatchDepth = keep(dispatchDepth);
  g.rawStream = keep(rawStream);
  g.context = keep(context);
  g.kernel = keep(kernel);
  auto intern = [](const char *s) { return PyUnicode_InternFromString(s); };
  names = {intern("data_ptr"),  intern("shape"),         intern("stride"),
           intern("dtype"),     intern("requires_grad"), intern("is_cuda"),
           intern("get_device"), intern("new_empty"), intern("is_cpu")};
  g.ready = g.launch && g.setStream;
}

NB_MODULE(_ext, m) {
  m.doc() = "attn's compiled fast path for eager attn.attention calls on "
            "torch tensors (internal; attn/_torch.py drives it)";
  m.def("init", &init,
        "Hands over attn_launch and attn_context_set_stream (addresses) and "
        "the torch objects the fast path compares with or calls.");
  m.def("attention", &attention, nb::arg("q"), nb::arg("k"), nb::arg("v"),
        nb::arg("pattern"), nb::arg("scale"), nb::arg("return_lse"),
        nb::arg("out").none(),
        "(o, lse or None) after a launch, an attn_status int when the launch "
        "failed, None when the call is not one the fast path takes.");
}
