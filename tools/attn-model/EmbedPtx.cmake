# Writes the PTX file IN as a C++ string constant kCudaKernelsPtx in OUT.
file(READ ${IN} ptx)
file(WRITE ${OUT} "static const char kCudaKernelsPtx[] = R\"attnptx(${ptx})attnptx\";\n")
