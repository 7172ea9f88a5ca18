// Building small ONNX models in C++ for the fold-pass tests, the way onnx.helper does in
// Python: initializers from vectors (raw or typed data, any float type), nodes with
// attributes, inputs and outputs with shapes, subgraphs.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "../../runtime/weight_format.hpp"
#include "proto.hpp"

namespace bnrt::testing {

namespace pb = ::onnx;

/// An attribute value for GraphBuilder::node.
struct Attribute {
  std::string name;
  pb::AttributeProto proto;

  Attribute(std::string n, std::int64_t i) : name(std::move(n)) {
    proto.set_type(pb::AttributeProto::INT);
    proto.set_i(i);
  }
  Attribute(std::string n, int i) : Attribute(std::move(n), static_cast<std::int64_t>(i)) {}
  Attribute(std::string n, double f) : name(std::move(n)) {
    proto.set_type(pb::AttributeProto::FLOAT);
    proto.set_f(static_cast<float>(f));
  }
  Attribute(std::string n, std::vector<std::int64_t> ints) : name(std::move(n)) {
    proto.set_type(pb::AttributeProto::INTS);
    for (auto v : ints) proto.add_ints(v);
  }
  Attribute(std::string n, const char* s) : name(std::move(n)) {
    proto.set_type(pb::AttributeProto::STRING);
    proto.set_s(s);
  }
  Attribute(std::string n, const pb::GraphProto& g) : name(std::move(n)) {
    proto.set_type(pb::AttributeProto::GRAPH);
    *proto.mutable_g() = g;
  }
  Attribute(std::string n, const pb::TensorProto& t) : name(std::move(n)) {
    proto.set_type(pb::AttributeProto::TENSOR);
    *proto.mutable_t() = t;
  }
};

/// How an initializer stores its values.
enum class Storage { raw, typed };

inline pb::TensorProto make_tensor(const std::string& name, const std::vector<std::int64_t>& dims,
                                   const std::vector<double>& values,
                                   std::int32_t type = pb::TensorProto::FLOAT,
                                   Storage storage = Storage::raw) {
  pb::TensorProto tensor;
  tensor.set_name(name);
  tensor.set_data_type(type);
  for (auto d : dims) tensor.add_dims(d);
  std::string raw;
  for (double v : values) {
    if (type == pb::TensorProto::FLOAT) {
      const float f = static_cast<float>(v);
      if (storage == Storage::typed) {
        tensor.add_float_data(f);
      } else {
        raw.append(reinterpret_cast<const char*>(&f), 4);
      }
    } else if (type == pb::TensorProto::DOUBLE) {
      if (storage == Storage::typed) {
        tensor.add_double_data(v);
      } else {
        raw.append(reinterpret_cast<const char*>(&v), 8);
      }
    } else if (type == pb::TensorProto::INT64) {
      const auto i = static_cast<std::int64_t>(v);
      if (storage == Storage::typed) {
        tensor.add_int64_data(i);
      } else {
        raw.append(reinterpret_cast<const char*>(&i), 8);
      }
    } else {  // float16 / bfloat16
      const WeightType weight_type =
          type == pb::TensorProto::FLOAT16 ? WeightType::f16 : WeightType::bf16;
      std::uint16_t bits = 0;
      detail::store_weight(&bits, weight_type, 0, detail::round_to_format(v, weight_type));
      if (storage == Storage::typed) {
        tensor.add_int32_data(bits);
      } else {
        raw.append(reinterpret_cast<const char*>(&bits), 2);
      }
    }
  }
  if (storage == Storage::raw) tensor.set_raw_data(raw);
  return tensor;
}

inline pb::ValueInfoProto make_value(const std::string& name, std::vector<std::int64_t> dims,
                                     std::int32_t type = pb::TensorProto::FLOAT) {
  pb::ValueInfoProto value;
  value.set_name(name);
  auto* tensor_type = value.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(type);
  auto* shape = tensor_type->mutable_shape();
  for (auto d : dims) {
    if (d < 0) {
      shape->add_dim()->set_dim_param("N");
    } else {
      shape->add_dim()->set_dim_value(d);
    }
  }
  return value;
}

/// Random values in [lo, hi), seeded per builder.
class GraphBuilder {
 public:
  explicit GraphBuilder(std::uint64_t seed = 1, std::int64_t opset = 13)
      : rng_(seed), opset_(opset) {
    graph_.set_name("graph" + std::to_string(seed));
  }

  std::vector<double> random(std::size_t n, double lo = -1, double hi = 1) {
    std::uniform_real_distribution<double> dist(lo, hi);
    std::vector<double> v(n);
    for (double& x : v) x = dist(rng_);
    return v;
  }

  std::string initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                          const std::vector<double>& values,
                          std::int32_t type = pb::TensorProto::FLOAT,
                          Storage storage = Storage::raw) {
    *graph_.add_initializer() = make_tensor(name, dims, values, type, storage);
    return name;
  }
  std::string random_initializer(const std::string& name, const std::vector<std::int64_t>& dims,
                                 double lo = -1, double hi = 1,
                                 std::int32_t type = pb::TensorProto::FLOAT) {
    std::size_t n = 1;
    for (auto d : dims) n *= static_cast<std::size_t>(d);
    return initializer(name, dims, random(n, lo, hi), type);
  }

  /// BN parameters scale / B / mean / var (var in [0.2, 2)) for `channels`; returns the names.
  std::vector<std::string> bn_params(const std::string& prefix, std::int64_t channels,
                                     std::int32_t type = pb::TensorProto::FLOAT) {
    return {random_initializer(prefix + ".scale", {channels}, 0.5, 1.5, type),
            random_initializer(prefix + ".B", {channels}, -0.5, 0.5, type),
            random_initializer(prefix + ".mean", {channels}, -0.5, 0.5, type),
            random_initializer(prefix + ".var", {channels}, 0.2, 2.0, type)};
  }

  pb::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                      const std::vector<std::string>& outputs, const std::string& name = "",
                      const std::vector<Attribute>& attributes = {}) {
    pb::NodeProto& n = *graph_.add_node();
    n.set_op_type(op);
    n.set_name(name.empty() ? outputs.front() : name);
    for (const auto& i : inputs) n.add_input(i);
    for (const auto& o : outputs) n.add_output(o);
    for (const auto& a : attributes) {
      pb::AttributeProto& attribute = *n.add_attribute();
      attribute = a.proto;
      attribute.set_name(a.name);
    }
    return n;
  }
  /// A BatchNormalization reading `x`, with fresh parameters; returns its output name.
  std::string batch_norm(const std::string& name, const std::string& x, std::int64_t channels,
                         const std::vector<Attribute>& attributes = {}) {
    std::vector<std::string> inputs{x};
    for (auto& p : bn_params(name, channels)) inputs.push_back(p);
    node("BatchNormalization", inputs, {name}, name, attributes);
    return name;
  }

  void input(const std::string& name, std::vector<std::int64_t> dims,
             std::int32_t type = pb::TensorProto::FLOAT) {
    *graph_.add_input() = make_value(name, std::move(dims), type);
  }
  void output(const std::string& name, std::vector<std::int64_t> dims,
              std::int32_t type = pb::TensorProto::FLOAT) {
    *graph_.add_output() = make_value(name, std::move(dims), type);
  }
  /// An output of known rank whose dims are left symbolic.
  void output(const std::string& name, std::size_t rank,
              std::int32_t type = pb::TensorProto::FLOAT) {
    output(name, std::vector<std::int64_t>(rank, -1), type);
  }

  pb::GraphProto& graph() { return graph_; }

  pb::ModelProto model(std::int64_t ir_version = 7) const {
    pb::ModelProto m;
    m.set_ir_version(ir_version);
    m.set_producer_name("bnrt tests");
    auto* opset = m.add_opset_import();
    opset->set_domain("");
    opset->set_version(opset_);
    *m.mutable_graph() = graph_;
    return m;
  }

  /// The model as a bnrt::onnx::Model (through bytes, as a file would come).
  onnx::Model build(std::int64_t ir_version = 7) const {
    std::string bytes;
    model(ir_version).SerializeToString(&bytes);
    return onnx::Model::parse(bytes);
  }

 private:
  std::mt19937_64 rng_;
  std::int64_t opset_;
  pb::GraphProto graph_;
};

}  // namespace bnrt::testing
