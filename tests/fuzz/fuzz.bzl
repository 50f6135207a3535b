# esg_fuzz_target: one libFuzzer target and the regression test that replays its corpus.
#
#   esg_fuzz_target(name = "request_parser", srcs = ["request_parser_fuzzer.cc"], deps = [...])
#
# in tests/fuzz/<area>/BUILD (one package per area of the source tree: http, engine, master, control...) gives
#   :request_parser_corpus_test  a plain cc_test (any compiler, part of `bazel test //...`) that runs every file
#                                of tests/fuzz/<area>/corpus/request_parser/ through LLVMFuzzerTestOneInput once;
#   :request_parser_fuzzer       the libFuzzer binary (tagged manual: it links -fsanitize=fuzzer, so it is built
#                                only with `--config=fuzz`, clang-14; see tests/fuzz/README.md).
# The target's source defines `extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t)` and aborts
# (or trips a sanitizer) on a finding; it must never write outside its own memory or touch the network.

def esg_fuzz_target(name, srcs, deps = [], copts = [], linkopts = [], data = []):
    corpus = native.glob(["corpus/" + name + "/**"])
    native.cc_library(
        name = name + "_fuzz_lib",
        testonly = True,
        srcs = srcs,
        deps = deps,
        copts = copts,
        linkopts = linkopts,
        alwayslink = True,
    )
    native.cc_test(
        name = name + "_corpus_test",
        size = "small",
        deps = [":" + name + "_fuzz_lib", "//tests/fuzz:replay_main"],
        data = corpus + data,
        args = [native.package_name() + "/corpus/" + name],
    )
    native.cc_binary(
        name = name + "_fuzzer",
        testonly = True,
        deps = [":" + name + "_fuzz_lib"],
        linkopts = ["-fsanitize=fuzzer"],
        data = data,
        tags = ["manual"],
    )
