// Model files: what load() says about files that are not (whole) ONNX models, round trips
// through save(), and external data: read at load (never from outside the model's folder),
// written next to the output at save, with the in-memory model unchanged by saving.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "bnrt/error.hpp"
#include "bnrt/onnx.hpp"
#include "graph_builder.hpp"

namespace bnrt::testing {
namespace {

namespace fs = std::filesystem;

/// A fresh empty folder under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("bnrt_model_file_test_" + std::to_string(::getpid()) +
                                         "_" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::vector<std::string> names() const {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(path_))
      found.push_back(entry.path().filename());
    std::sort(found.begin(), found.end());
    return found;
  }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

GraphBuilder conv_bn_model() {
  GraphBuilder b(9);
  b.input("x", {1, 3, 8, 8});
  b.node("Conv", {"x", b.random_initializer("w", {16, 3, 3, 3}), b.random_initializer("b", {16})},
         {"c"}, "conv");
  b.batch_norm("bn", "c", 16);
  b.output("bn", 4u);
  return b;
}

template <class F>
void expect_error(F&& f, ErrorCode code, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "expected an error mentioning " << fragment;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ModelFile, FilesThatAreNotWholeModelsAreRejectedClearly) {
  TempDir dir;
  std::string bytes;
  conv_bn_model().model().SerializeToString(&bytes);
  expect_error([&] { onnx::Model::load(dir.file("missing.onnx")); }, ErrorCode::io_error,
               "cannot open");
  expect_error([&] { onnx::Model::load(dir.file("")); }, ErrorCode::io_error, "is a directory");
  write_file(dir.file("empty.onnx"), "");
  expect_error([&] { onnx::Model::load(dir.file("empty.onnx")); }, ErrorCode::invalid_model,
               "is empty");
  write_file(dir.file("text.onnx"), "this is a text file, not a model\n");
  expect_error([&] { onnx::Model::load(dir.file("text.onnx")); }, ErrorCode::invalid_model,
               "not an ONNX model");
  // Cut anywhere: protobuf parsing fails, or what remains lacks a graph.
  for (const std::size_t keep : {bytes.size() / 2, bytes.size() - 1, std::size_t{7}}) {
    write_file(dir.file("cut.onnx"), bytes.substr(0, keep));
    expect_error([&] { onnx::Model::load(dir.file("cut.onnx")); }, ErrorCode::invalid_model,
                 dir.file("cut.onnx"));
  }
  expect_error([&] { onnx::Model::parse(""); }, ErrorCode::invalid_model, "is empty");
}

TEST(ModelFile, SaveThenLoadGivesTheSameModel) {
  TempDir dir;
  onnx::Model model = conv_bn_model().build();
  model.save(dir.file("model.onnx"));
  EXPECT_EQ(dir.names(), std::vector<std::string>{"model.onnx"});  // no temporary left behind
  EXPECT_EQ(onnx::Model::load(dir.file("model.onnx")).serialize(), model.serialize());
  // Saving over an existing file replaces it whole.
  model.fold_batch_norms();
  model.save(dir.file("model.onnx"));
  EXPECT_EQ(onnx::Model::load(dir.file("model.onnx")).serialize(), model.serialize());
  expect_error([&] { model.save(dir.file("no/such/folder/model.onnx")); }, ErrorCode::io_error,
               "no/such/folder");
}

/// Moves every initializer of `model` to `data_file` (relative to `dir`) as external data.
pb::ModelProto with_external_data(pb::ModelProto model, const TempDir& dir,
                                  const std::string& data_file) {
  std::string data = "header";  // tensors start at an odd offset
  for (auto& tensor : *model.mutable_graph()->mutable_initializer()) {
    const std::string offset = std::to_string(data.size());
    data += tensor.raw_data();
    auto add = [&](const char* key, const std::string& value) {
      auto* entry = tensor.add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    };
    add("location", data_file);
    add("offset", offset);
    add("length", std::to_string(tensor.raw_data().size()));
    tensor.clear_raw_data();
    tensor.set_data_location(pb::TensorProto::EXTERNAL);
  }
  write_file(dir.file(data_file), data);
  return model;
}

TEST(ModelFile, ExternalDataIsReadAndWrittenBackNextToTheOutput) {
  TempDir in, out;
  const pb::ModelProto inline_model = conv_bn_model().model();
  std::string bytes;
  with_external_data(inline_model, in, "weights.bin").SerializeToString(&bytes);
  write_file(in.file("model.onnx"), bytes);

  onnx::Model model = onnx::Model::load(in.file("model.onnx"));
  std::string expected;
  inline_model.SerializeToString(&expected);
  EXPECT_EQ(model.serialize(), expected);  // all data in memory, as if it had been inline

  model.fold_batch_norms();
  const std::string folded = model.serialize();
  model.save(out.file("folded.onnx"));
  EXPECT_EQ(model.serialize(), folded);  // saving leaves the in-memory model as it was
  EXPECT_EQ(out.names(), (std::vector<std::string>{"folded.onnx", "folded.onnx.data"}));
  // The saved model points at its own data file, and reads back to the same model.
  pb::ModelProto saved;
  ASSERT_TRUE(saved.ParseFromString(read_file(out.file("folded.onnx"))));
  bool external = false;
  for (const auto& tensor : saved.graph().initializer()) {
    if (tensor.data_location() != pb::TensorProto::EXTERNAL) continue;
    external = true;
    EXPECT_EQ(tensor.external_data(0).value(), "folded.onnx.data");
  }
  EXPECT_TRUE(external);
  EXPECT_EQ(onnx::Model::load(out.file("folded.onnx")).serialize(), folded);
  // The input's own files are untouched.
  EXPECT_EQ(read_file(in.file("model.onnx")), bytes);
}

TEST(ModelFile, ExternalDataMustStayInsideTheModelFolderAndMatchItsTensor) {
  TempDir dir;
  const pb::ModelProto base = with_external_data(conv_bn_model().model(), dir, "weights.bin");
  auto load_with = [&](const std::function<void(pb::TensorProto&)>& edit) {
    pb::ModelProto model = base;
    edit(*model.mutable_graph()->mutable_initializer(0));
    std::string bytes;
    model.SerializeToString(&bytes);
    write_file(dir.file("model.onnx"), bytes);
    return onnx::Model::load(dir.file("model.onnx"));
  };
  auto set = [](pb::TensorProto& tensor, const std::string& key, const std::string& value) {
    for (auto& entry : *tensor.mutable_external_data()) {
      if (entry.key() == key) entry.set_value(value);
    }
  };
  EXPECT_NO_THROW(load_with([](pb::TensorProto&) {}));
  expect_error([&] { load_with([&](auto& t) { set(t, "location", "../weights.bin"); }); },
               ErrorCode::invalid_model, "leaves the model's folder");
  expect_error([&] { load_with([&](auto& t) { set(t, "location", "/etc/passwd"); }); },
               ErrorCode::invalid_model, "must be a path relative");
  expect_error([&] { load_with([&](auto& t) { set(t, "location", "absent.bin"); }); },
               ErrorCode::io_error, "absent.bin");
  expect_error([&] { load_with([&](auto& t) { set(t, "length", "12"); }); },
               ErrorCode::invalid_model, "holds 12 bytes");
  expect_error([&] { load_with([&](auto& t) { set(t, "offset", "100000000"); }); },
               ErrorCode::invalid_model, "past the end");
  expect_error([&] { load_with([&](auto& t) { set(t, "offset", "12x"); }); },
               ErrorCode::invalid_model, "offset = '12x'");
  // Bytes alone cannot resolve external data.
  std::string bytes;
  base.SerializeToString(&bytes);
  expect_error([&] { onnx::Model::parse(bytes); }, ErrorCode::invalid_model, "external data");
}

TEST(ModelFile, MalformedTensorsAreNamed) {
  GraphBuilder b = conv_bn_model();
  b.graph().mutable_initializer(0)->mutable_raw_data()->resize(10);
  onnx::Model model = b.build();
  expect_error([&] { model.fold_batch_norms(); }, ErrorCode::invalid_model,
               "tensor 'w' (float [16, 3, 3, 3]): raw_data holds 10 bytes");
}

}  // namespace
}  // namespace bnrt::testing
