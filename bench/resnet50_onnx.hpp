// ResNet-50 (torchvision's layout) as an unfolded ONNX model: every conv followed by a
// BatchNormalization, 25.6M fp32 parameters (~102 MB). Built in C++ with random weights and
// statistics, so the fold benchmark needs no download and no Python.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace bnrt::bench {

class ResNet50Builder {
 public:
  explicit ResNet50Builder(std::uint64_t seed) : rng_(seed) {}

  ::onnx::ModelProto build(std::int64_t batch = 1) {
    std::string x = conv_bn("stem", "input", 3, 64, 7, 2, 3, true);
    x = node("MaxPool", {x}, "stem_pool",
             {ints("kernel_shape", {3, 3}), ints("strides", {2, 2}), ints("pads", {1, 1, 1, 1})});
    const std::int64_t widths[] = {64, 128, 256, 512};
    const int blocks[] = {3, 4, 6, 3};
    std::int64_t in = 64;
    for (int stage = 0; stage < 4; ++stage) {
      for (int block = 0; block < blocks[stage]; ++block) {
        const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(block);
        const std::int64_t width = widths[stage], out = width * 4;
        const std::int64_t stride = block == 0 && stage > 0 ? 2 : 1;
        std::string h = conv_bn(name + ".conv1", x, in, width, 1, 1, 0, true);
        h = conv_bn(name + ".conv2", h, width, width, 3, stride, 1, true);
        h = conv_bn(name + ".conv3", h, width, out, 1, 1, 0, false);
        const std::string skip =
            block == 0 ? conv_bn(name + ".downsample", x, in, out, 1, stride, 0, false) : x;
        x = node("Relu", {node("Add", {h, skip}, name + ".add")}, name + ".relu");
        in = out;
      }
    }
    x = node("Flatten", {node("GlobalAveragePool", {x}, "pool")}, "flatten");
    const std::string w = tensor("fc.weight", {1000, 2048}, 0.02);
    const std::string b = tensor("fc.bias", {1000}, 0.02);
    x = node("Gemm", {x, w, b}, "fc", {int_attribute("transB", 1)});

    auto* input = graph_.add_input();
    value(*input, "input", {batch, 3, 224, 224});
    value(*graph_.add_output(), x, {batch, 1000});
    graph_.set_name("resnet50");
    ::onnx::ModelProto model;
    model.set_ir_version(7);
    model.set_producer_name("bnrt bench/resnet50_onnx.hpp");
    auto* opset = model.add_opset_import();
    opset->set_domain("");
    opset->set_version(13);
    *model.mutable_graph() = std::move(graph_);
    return model;
  }

 private:
  static ::onnx::AttributeProto ints(const std::string& name, std::vector<std::int64_t> values) {
    ::onnx::AttributeProto a;
    a.set_name(name);
    a.set_type(::onnx::AttributeProto::INTS);
    for (auto v : values) a.add_ints(v);
    return a;
  }
  static ::onnx::AttributeProto int_attribute(const std::string& name, std::int64_t value) {
    ::onnx::AttributeProto a;
    a.set_name(name);
    a.set_type(::onnx::AttributeProto::INT);
    a.set_i(value);
    return a;
  }
  static void value(::onnx::ValueInfoProto& info, const std::string& name,
                    const std::vector<std::int64_t>& dims) {
    info.set_name(name);
    auto* type = info.mutable_type()->mutable_tensor_type();
    type->set_elem_type(::onnx::TensorProto::FLOAT);
    for (auto d : dims) type->mutable_shape()->add_dim()->set_dim_value(d);
  }

  std::string tensor(const std::string& name, const std::vector<std::int64_t>& dims, double spread,
                     double offset = 0) {
    auto& t = *graph_.add_initializer();
    t.set_name(name);
    t.set_data_type(::onnx::TensorProto::FLOAT);
    std::size_t count = 1;
    for (auto d : dims) {
      t.add_dims(d);
      count *= static_cast<std::size_t>(d);
    }
    std::uniform_real_distribution<float> dist(static_cast<float>(offset - spread),
                                               static_cast<float>(offset + spread));
    std::vector<float> values(count);
    for (float& v : values) v = dist(rng_);
    t.set_raw_data(values.data(), count * sizeof(float));
    return name;
  }

  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::string& name,
                   const std::vector<::onnx::AttributeProto>& attributes = {}) {
    auto& n = *graph_.add_node();
    n.set_op_type(op);
    n.set_name(name);
    for (const auto& i : inputs) n.add_input(i);
    n.add_output(name);
    for (const auto& a : attributes) *n.add_attribute() = a;
    return name;
  }

  /// conv (no bias, as torchvision has it) -> BatchNormalization [-> Relu].
  std::string conv_bn(const std::string& name, const std::string& x, std::int64_t in,
                      std::int64_t out, std::int64_t k, std::int64_t stride, std::int64_t pad,
                      bool relu) {
    const std::string w = tensor(name + ".weight", {out, in, k, k}, 0.05);
    std::string y = node("Conv", {x, w}, name,
                         {ints("kernel_shape", {k, k}), ints("strides", {stride, stride}),
                          ints("pads", {pad, pad, pad, pad})});
    const std::string bn = name + ".bn";
    y = node(
        "BatchNormalization",
        {y, tensor(bn + ".weight", {out}, 0.5, 1.0), tensor(bn + ".bias", {out}, 0.2),
         tensor(bn + ".running_mean", {out}, 0.2), tensor(bn + ".running_var", {out}, 0.4, 0.6)},
        bn);
    return relu ? node("Relu", {y}, name + ".relu") : y;
  }

  std::mt19937_64 rng_;
  ::onnx::GraphProto graph_;
};

}  // namespace bnrt::bench
