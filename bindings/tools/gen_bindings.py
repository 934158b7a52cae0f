#!/usr/bin/env python3
"""Stand-in for jextract (not obtainable on the build machine): generates the jextract-shaped FFM
bindings CudaDriver.java, Cublas.java and CublasLt.java from the prototype list below.

Each entry: (header name, exported symbol, return type, [(C type, parameter name), ...]).
The header name is the one written in the header's prototype; the exported symbol is what the
header's #define maps it to (cuMemAlloc -> cuMemAlloc_v2). To regenerate with real jextract:

  jextract --output src -t dev.infinityj.bindings.cuda \
    --include-function <each header name below> --library :libcuda.so.1 /usr/local/cuda/include/cuda.h
  (likewise cublas_api.h with libcublas.so, cublasLt.h with libcublasLt.so)

Run: python3 bindings/tools/gen_bindings.py   (rewrites the three .java files)
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "src", "main", "java", "dev", "infinityj", "bindings", "cuda")

# C type -> (ValueLayout constant, Java type)
T = {
    "CUresult": ("JAVA_INT", "int"), "int": ("JAVA_INT", "int"), "unsigned int": ("JAVA_INT", "int"),
    "CUdevice": ("JAVA_INT", "int"), "CUdevice_attribute": ("JAVA_INT", "int"),
    "CUfunction_attribute": ("JAVA_INT", "int"), "CUstreamCaptureMode": ("JAVA_INT", "int"),
    "unsigned char": ("JAVA_BYTE", "byte"), "size_t": ("JAVA_LONG", "long"),
    "unsigned long long": ("JAVA_LONG", "long"), "long long int": ("JAVA_LONG", "long"),
    "uint64_t": ("JAVA_LONG", "long"), "int64_t": ("JAVA_LONG", "long"),
    "CUdeviceptr": ("JAVA_LONG", "long"),
    "cublasStatus_t": ("JAVA_INT", "int"), "cublasOperation_t": ("JAVA_INT", "int"),
    "cudaDataType": ("JAVA_INT", "int"), "cudaDataType_t": ("JAVA_INT", "int"),
    "cublasComputeType_t": ("JAVA_INT", "int"), "cublasGemmAlgo_t": ("JAVA_INT", "int"),
    "cublasMath_t": ("JAVA_INT", "int"), "cublasLtMatmulDescAttributes_t": ("JAVA_INT", "int"),
    "void": (None, "void"),
}
PTR = ("ADDRESS", "MemorySegment")  # every pointer and opaque handle (CUcontext, CUstream, ...)

def jt(ctype):
    return T.get(ctype, PTR)

DRIVER = [
    ("cuGetErrorName", "cuGetErrorName", "CUresult", [("CUresult", "error"), ("const char **", "pStr")]),
    ("cuGetErrorString", "cuGetErrorString", "CUresult", [("CUresult", "error"), ("const char **", "pStr")]),
    ("cuInit", "cuInit", "CUresult", [("unsigned int", "Flags")]),
    ("cuDriverGetVersion", "cuDriverGetVersion", "CUresult", [("int *", "driverVersion")]),
    ("cuDeviceGetCount", "cuDeviceGetCount", "CUresult", [("int *", "count")]),
    ("cuDeviceGet", "cuDeviceGet", "CUresult", [("CUdevice *", "device"), ("int", "ordinal")]),
    ("cuDeviceGetName", "cuDeviceGetName", "CUresult", [("char *", "name"), ("int", "len"), ("CUdevice", "dev")]),
    ("cuDeviceGetAttribute", "cuDeviceGetAttribute", "CUresult", [("int *", "pi"), ("CUdevice_attribute", "attrib"), ("CUdevice", "dev")]),
    ("cuDeviceTotalMem", "cuDeviceTotalMem_v2", "CUresult", [("size_t *", "bytes"), ("CUdevice", "dev")]),
    ("cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRetain", "CUresult", [("CUcontext *", "pctx"), ("CUdevice", "dev")]),
    ("cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxRelease_v2", "CUresult", [("CUdevice", "dev")]),
    ("cuCtxSetCurrent", "cuCtxSetCurrent", "CUresult", [("CUcontext", "ctx")]),
    ("cuCtxGetCurrent", "cuCtxGetCurrent", "CUresult", [("CUcontext *", "pctx")]),
    ("cuCtxSynchronize", "cuCtxSynchronize", "CUresult", []),
    ("cuMemGetInfo", "cuMemGetInfo_v2", "CUresult", [("size_t *", "free"), ("size_t *", "total")]),
    ("cuMemAlloc", "cuMemAlloc_v2", "CUresult", [("CUdeviceptr *", "dptr"), ("size_t", "bytesize")]),
    ("cuMemAllocManaged", "cuMemAllocManaged", "CUresult", [("CUdeviceptr *", "dptr"), ("size_t", "bytesize"), ("unsigned int", "flags")]),
    ("cuMemFree", "cuMemFree_v2", "CUresult", [("CUdeviceptr", "dptr")]),
    ("cuMemAllocHost", "cuMemAllocHost_v2", "CUresult", [("void **", "pp"), ("size_t", "bytesize")]),
    ("cuMemFreeHost", "cuMemFreeHost", "CUresult", [("void *", "p")]),
    ("cuMemHostRegister", "cuMemHostRegister_v2", "CUresult", [("void *", "p"), ("size_t", "bytesize"), ("unsigned int", "Flags")]),
    ("cuMemHostUnregister", "cuMemHostUnregister", "CUresult", [("void *", "p")]),
    ("cuMemcpyHtoD", "cuMemcpyHtoD_v2", "CUresult", [("CUdeviceptr", "dstDevice"), ("const void *", "srcHost"), ("size_t", "ByteCount")]),
    ("cuMemcpyDtoH", "cuMemcpyDtoH_v2", "CUresult", [("void *", "dstHost"), ("CUdeviceptr", "srcDevice"), ("size_t", "ByteCount")]),
    ("cuMemcpyDtoD", "cuMemcpyDtoD_v2", "CUresult", [("CUdeviceptr", "dstDevice"), ("CUdeviceptr", "srcDevice"), ("size_t", "ByteCount")]),
    ("cuMemcpyHtoDAsync", "cuMemcpyHtoDAsync_v2", "CUresult", [("CUdeviceptr", "dstDevice"), ("const void *", "srcHost"), ("size_t", "ByteCount"), ("CUstream", "hStream")]),
    ("cuMemcpyDtoHAsync", "cuMemcpyDtoHAsync_v2", "CUresult", [("void *", "dstHost"), ("CUdeviceptr", "srcDevice"), ("size_t", "ByteCount"), ("CUstream", "hStream")]),
    ("cuMemcpyDtoDAsync", "cuMemcpyDtoDAsync_v2", "CUresult", [("CUdeviceptr", "dstDevice"), ("CUdeviceptr", "srcDevice"), ("size_t", "ByteCount"), ("CUstream", "hStream")]),
    ("cuMemsetD8Async", "cuMemsetD8Async", "CUresult", [("CUdeviceptr", "dstDevice"), ("unsigned char", "uc"), ("size_t", "N"), ("CUstream", "hStream")]),
    ("cuMemsetD32Async", "cuMemsetD32Async", "CUresult", [("CUdeviceptr", "dstDevice"), ("unsigned int", "ui"), ("size_t", "N"), ("CUstream", "hStream")]),
    ("cuModuleLoadData", "cuModuleLoadData", "CUresult", [("CUmodule *", "module"), ("const void *", "image")]),
    ("cuModuleLoadDataEx", "cuModuleLoadDataEx", "CUresult", [("CUmodule *", "module"), ("const void *", "image"), ("unsigned int", "numOptions"), ("CUjit_option *", "options"), ("void **", "optionValues")]),
    ("cuModuleUnload", "cuModuleUnload", "CUresult", [("CUmodule", "hmod")]),
    ("cuModuleGetFunction", "cuModuleGetFunction", "CUresult", [("CUfunction *", "hfunc"), ("CUmodule", "hmod"), ("const char *", "name")]),
    ("cuFuncSetAttribute", "cuFuncSetAttribute", "CUresult", [("CUfunction", "hfunc"), ("CUfunction_attribute", "attrib"), ("int", "value")]),
    ("cuLaunchKernel", "cuLaunchKernel", "CUresult", [("CUfunction", "f"), ("unsigned int", "gridDimX"), ("unsigned int", "gridDimY"), ("unsigned int", "gridDimZ"), ("unsigned int", "blockDimX"), ("unsigned int", "blockDimY"), ("unsigned int", "blockDimZ"), ("unsigned int", "sharedMemBytes"), ("CUstream", "hStream"), ("void **", "kernelParams"), ("void **", "extra")]),
    ("cuStreamCreate", "cuStreamCreate", "CUresult", [("CUstream *", "phStream"), ("unsigned int", "Flags")]),
    ("cuStreamDestroy", "cuStreamDestroy_v2", "CUresult", [("CUstream", "hStream")]),
    ("cuStreamSynchronize", "cuStreamSynchronize", "CUresult", [("CUstream", "hStream")]),
    ("cuEventCreate", "cuEventCreate", "CUresult", [("CUevent *", "phEvent"), ("unsigned int", "Flags")]),
    ("cuEventDestroy", "cuEventDestroy_v2", "CUresult", [("CUevent", "hEvent")]),
    ("cuEventRecord", "cuEventRecord", "CUresult", [("CUevent", "hEvent"), ("CUstream", "hStream")]),
    ("cuEventSynchronize", "cuEventSynchronize", "CUresult", [("CUevent", "hEvent")]),
    ("cuEventElapsedTime", "cuEventElapsedTime_v2", "CUresult", [("float *", "pMilliseconds"), ("CUevent", "hStart"), ("CUevent", "hEnd")]),
    ("cuStreamBeginCapture", "cuStreamBeginCapture_v2", "CUresult", [("CUstream", "hStream"), ("CUstreamCaptureMode", "mode")]),
    ("cuStreamEndCapture", "cuStreamEndCapture", "CUresult", [("CUstream", "hStream"), ("CUgraph *", "phGraph")]),
    ("cuGraphInstantiate", "cuGraphInstantiateWithFlags", "CUresult", [("CUgraphExec *", "phGraphExec"), ("CUgraph", "hGraph"), ("unsigned long long", "flags")]),
    ("cuGraphLaunch", "cuGraphLaunch", "CUresult", [("CUgraphExec", "hGraphExec"), ("CUstream", "hStream")]),
    ("cuGraphExecDestroy", "cuGraphExecDestroy", "CUresult", [("CUgraphExec", "hGraphExec")]),
    ("cuGraphDestroy", "cuGraphDestroy", "CUresult", [("CUgraph", "hGraph")]),
]

CUBLAS = [
    ("cublasCreate", "cublasCreate_v2", "cublasStatus_t", [("cublasHandle_t *", "handle")]),
    ("cublasDestroy", "cublasDestroy_v2", "cublasStatus_t", [("cublasHandle_t", "handle")]),
    ("cublasGetVersion", "cublasGetVersion_v2", "cublasStatus_t", [("cublasHandle_t", "handle"), ("int *", "version")]),
    ("cublasSetStream", "cublasSetStream_v2", "cublasStatus_t", [("cublasHandle_t", "handle"), ("cudaStream_t", "streamId")]),
    ("cublasSetMathMode", "cublasSetMathMode", "cublasStatus_t", [("cublasHandle_t", "handle"), ("cublasMath_t", "mode")]),
    ("cublasGetStatusName", "cublasGetStatusName", "const char *", [("cublasStatus_t", "status")]),
    ("cublasGemmEx", "cublasGemmEx", "cublasStatus_t", [
        ("cublasHandle_t", "handle"), ("cublasOperation_t", "transa"), ("cublasOperation_t", "transb"),
        ("int", "m"), ("int", "n"), ("int", "k"), ("const void *", "alpha"),
        ("const void *", "A"), ("cudaDataType", "Atype"), ("int", "lda"),
        ("const void *", "B"), ("cudaDataType", "Btype"), ("int", "ldb"),
        ("const void *", "beta"), ("void *", "C"), ("cudaDataType", "Ctype"), ("int", "ldc"),
        ("cublasComputeType_t", "computeType"), ("cublasGemmAlgo_t", "algo")]),
    ("cublasGemmStridedBatchedEx", "cublasGemmStridedBatchedEx", "cublasStatus_t", [
        ("cublasHandle_t", "handle"), ("cublasOperation_t", "transa"), ("cublasOperation_t", "transb"),
        ("int", "m"), ("int", "n"), ("int", "k"), ("const void *", "alpha"),
        ("const void *", "A"), ("cudaDataType", "Atype"), ("int", "lda"), ("long long int", "strideA"),
        ("const void *", "B"), ("cudaDataType", "Btype"), ("int", "ldb"), ("long long int", "strideB"),
        ("const void *", "beta"), ("void *", "C"), ("cudaDataType", "Ctype"), ("int", "ldc"), ("long long int", "strideC"),
        ("int", "batchCount"), ("cublasComputeType_t", "computeType"), ("cublasGemmAlgo_t", "algo")]),
]

CUBLASLT = [
    ("cublasLtCreate", "cublasLtCreate", "cublasStatus_t", [("cublasLtHandle_t *", "lightHandle")]),
    ("cublasLtDestroy", "cublasLtDestroy", "cublasStatus_t", [("cublasLtHandle_t", "lightHandle")]),
    ("cublasLtGetVersion", "cublasLtGetVersion", "size_t", []),
    ("cublasLtMatmulDescCreate", "cublasLtMatmulDescCreate", "cublasStatus_t", [("cublasLtMatmulDesc_t *", "matmulDesc"), ("cublasComputeType_t", "computeType"), ("cudaDataType_t", "scaleType")]),
    ("cublasLtMatmulDescDestroy", "cublasLtMatmulDescDestroy", "cublasStatus_t", [("cublasLtMatmulDesc_t", "matmulDesc")]),
    ("cublasLtMatmulDescSetAttribute", "cublasLtMatmulDescSetAttribute", "cublasStatus_t", [("cublasLtMatmulDesc_t", "matmulDesc"), ("cublasLtMatmulDescAttributes_t", "attr"), ("const void *", "buf"), ("size_t", "sizeInBytes")]),
    ("cublasLtMatrixLayoutCreate", "cublasLtMatrixLayoutCreate", "cublasStatus_t", [("cublasLtMatrixLayout_t *", "matLayout"), ("cudaDataType", "type"), ("uint64_t", "rows"), ("uint64_t", "cols"), ("int64_t", "ld")]),
    ("cublasLtMatrixLayoutDestroy", "cublasLtMatrixLayoutDestroy", "cublasStatus_t", [("cublasLtMatrixLayout_t", "matLayout")]),
    ("cublasLtMatmul", "cublasLtMatmul", "cublasStatus_t", [
        ("cublasLtHandle_t", "lightHandle"), ("cublasLtMatmulDesc_t", "computeDesc"), ("const void *", "alpha"),
        ("const void *", "A"), ("cublasLtMatrixLayout_t", "Adesc"), ("const void *", "B"), ("cublasLtMatrixLayout_t", "Bdesc"),
        ("const void *", "beta"), ("const void *", "C"), ("cublasLtMatrixLayout_t", "Cdesc"),
        ("void *", "D"), ("cublasLtMatrixLayout_t", "Ddesc"), ("const cublasLtMatmulAlgo_t *", "algo"),
        ("void *", "workspace"), ("size_t", "workspaceSizeInBytes"), ("cudaStream_t", "stream")]),
]


def gen(cls, header, libdoc, fns, required):
    L = []
    w = L.append
    w("// GENERATED by bindings/tools/gen_bindings.py from the prototypes of %s. Do not edit by hand." % header)
    w("package dev.infinityj.bindings.cuda;")
    w("")
    w("import java.lang.foreign.*;")
    w("import java.lang.invoke.MethodHandle;")
    w("import java.util.List;")
    w("")
    w("import static java.lang.foreign.ValueLayout.*;")
    w("")
    w("/**")
    w(" * jextract-shaped FFM bindings for %s (%s)." % (libdoc, header))
    w(" * A static final {@link FunctionDescriptor} per function ({@code NAME$DESC}); the downcall handles are")
    w(" * bound per instance, because the library is found at run time ({@link CudaLibraries}) and may be absent.")
    w(" * Methods return the raw status (CUresult / cublasStatus_t); callers check it. A symbol the loaded")
    w(" * library lacks leaves its handle null and calling it throws {@link UnsupportedOperationException}.")
    w(" */")
    w("@SuppressWarnings(\"unused\")")
    w("public final class %s {" % cls)
    w("")
    for (hn, sym, ret, ps) in fns:
        rl = jt(ret)[0]
        args = ", ".join(jt(c)[0] for c, _ in ps)
        if rl is None:
            w("    public static final FunctionDescriptor %s$DESC = FunctionDescriptor.ofVoid(%s);" % (hn, args))
        else:
            w("    public static final FunctionDescriptor %s$DESC = FunctionDescriptor.of(%s%s);" % (hn, rl, (", " + args) if args else ""))
    w("")
    w("    /** Every bound function: the header's name, the exported symbol, its descriptor, whether loading requires it. */")
    w("    public static final List<NativeLibraries.Symbol> SYMBOLS = List.of(")
    rows = []
    for (hn, sym, ret, ps) in fns:
        rows.append("        new NativeLibraries.Symbol(\"%s\", \"%s\", %s$DESC, %s)" % (hn, sym, hn, "true" if hn in required else "false"))
    w(",\n".join(rows))
    w("    );")
    w("")
    for (hn, sym, ret, ps) in fns:
        w("    private final MethodHandle %s$MH;" % hn)
    w("")
    w("    private final SymbolLookup lookup;")
    w("")
    w("    /** Binds every symbol of {@link #SYMBOLS} found in {@code lookup}; fails if a required one is missing. */")
    w("    public %s(SymbolLookup lookup) {" % cls)
    w("        this.lookup = lookup;")
    w("        NativeLibraries.requireAll(lookup, SYMBOLS, \"%s\");" % cls)
    w("        Linker linker = Linker.nativeLinker();")
    for (hn, sym, ret, ps) in fns:
        w("        %s$MH = NativeLibraries.bind(linker, lookup, \"%s\", %s$DESC);" % (hn, sym, hn))
    w("    }")
    w("")
    w("    /** Whether the loaded library exports the symbol behind {@code headerName}. */")
    w("    public boolean has(String headerName) {")
    w("        for (NativeLibraries.Symbol s : SYMBOLS) if (s.headerName().equals(headerName)) return lookup.find(s.symbol()).isPresent();")
    w("        return false;")
    w("    }")
    for (hn, sym, ret, ps) in fns:
        rj = jt(ret)[1]
        params = ", ".join("%s %s" % (jt(c)[1], n) for c, n in ps)
        names = ", ".join(n for _, n in ps)
        w("")
        w("    /** {@code %s %s(%s)} → symbol {@code %s}. */" % (ret, hn, ", ".join("%s %s" % (c, n) for c, n in ps) or "void", sym))
        w("    public %s %s(%s) {" % (rj, hn, params))
        w("        if (%s$MH == null) throw NativeLibraries.missing(\"%s\");" % (hn, sym))
        cast = "" if rj == "void" else "return (%s) " % rj
        w("        try { %s%s$MH.invokeExact(%s); }" % (cast, hn, names))
        w("        catch (Throwable t) { throw NativeLibraries.rethrow(t); }")
        w("    }")
    w("}")
    with open(os.path.join(OUT, cls + ".java"), "w") as f:
        f.write("\n".join(L) + "\n")


gen("CudaDriver", "cuda.h", "the CUDA driver API, libcuda.so.1", DRIVER,
    {"cuGetErrorName", "cuGetErrorString", "cuInit", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet",
     "cuDeviceGetName", "cuDeviceGetAttribute", "cuDeviceTotalMem", "cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRelease",
     "cuCtxSetCurrent", "cuCtxSynchronize", "cuMemAlloc", "cuMemFree", "cuMemcpyHtoD", "cuMemcpyDtoH", "cuMemcpyDtoD",
     "cuMemcpyHtoDAsync", "cuMemcpyDtoHAsync", "cuMemcpyDtoDAsync", "cuMemsetD8Async",
     "cuModuleLoadDataEx", "cuModuleUnload", "cuModuleGetFunction", "cuLaunchKernel",
     "cuStreamCreate", "cuStreamDestroy", "cuStreamSynchronize", "cuEventCreate", "cuEventDestroy", "cuEventRecord",
     "cuEventSynchronize"})
gen("Cublas", "cublas_api.h", "cuBLAS, libcublas.so.{12,13}", CUBLAS,
    {"cublasCreate", "cublasDestroy", "cublasSetStream", "cublasGemmEx", "cublasGemmStridedBatchedEx"})
gen("CublasLt", "cublasLt.h", "cuBLASLt, libcublasLt.so.{12,13}", CUBLASLT,
    {"cublasLtCreate", "cublasLtDestroy", "cublasLtMatmul"})
print("generated CudaDriver.java, Cublas.java, CublasLt.java in", os.path.normpath(OUT))
