// Model files (see model_io.hpp). Parsing streams from the file descriptor, so a 100 MB model
// is held once in memory, not twice; external data is read with pread at the recorded offsets.
#include "model_io.hpp"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "atomic_file.hpp"
#include "bnrt/error.hpp"
#include "graph_walk.hpp"
#include "tensor_data.hpp"

namespace bnrt::onnx::detail {
namespace {

namespace io = google::protobuf::io;
namespace fs = std::filesystem;

/// Initializers at least this large go to the external data file when a model is saved with
/// one (the ONNX Python API's default threshold).
constexpr std::size_t kExternalThresholdBytes = 1024;
/// Offsets in the external data file are aligned for memory mapping.
constexpr std::size_t kExternalAlignment = 4096;
/// protobuf cannot serialize a message of 2 GiB or more.
constexpr std::size_t kProtobufLimitBytes = static_cast<std::size_t>(INT_MAX);

[[noreturn]] void io_failure(const std::string& what, const std::string& path) {
  throw Error(ErrorCode::io_error, what + " '" + path + "': " + std::strerror(errno));
}

[[noreturn]] void invalid(const std::string& source, const std::string& problem) {
  throw Error(ErrorCode::invalid_model, source + ": " + problem);
}

/// A file descriptor closed on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

/// The checks that tell an ONNX model from other bytes that happened to parse.
void check_is_model(const pb::ModelProto& model, const std::string& source) {
  if (model.ir_version() <= 0 || !model.has_graph()) {
    invalid(source, "not an ONNX model (no ir_version or no graph)");
  }
  if (model.opset_import_size() == 0) invalid(source, "not an ONNX model (no opset_import)");
}

std::size_t element_bytes(std::int32_t data_type) {
  switch (data_type) {
    case pb::TensorProto::UINT8:
    case pb::TensorProto::INT8:
    case pb::TensorProto::BOOL:
      return 1;
    case pb::TensorProto::UINT16:
    case pb::TensorProto::INT16:
    case pb::TensorProto::FLOAT16:
    case pb::TensorProto::BFLOAT16:
      return 2;
    case pb::TensorProto::FLOAT:
    case pb::TensorProto::INT32:
    case pb::TensorProto::UINT32:
      return 4;
    case pb::TensorProto::DOUBLE:
    case pb::TensorProto::INT64:
    case pb::TensorProto::UINT64:
    case pb::TensorProto::COMPLEX64:
      return 8;
    case pb::TensorProto::COMPLEX128:
      return 16;
    default:
      return 0;
  }
}

/// Reads one external tensor into raw_data. The location must stay inside `dir`.
void read_external(pb::TensorProto& tensor, const std::string& dir, const std::string& source) {
  std::map<std::string, std::string> entries;
  for (const auto& entry : tensor.external_data()) entries[entry.key()] = entry.value();
  const std::string label = "initializer '" + tensor.name() + "'";
  if (dir.empty()) invalid(source, label + " uses external data, which bytes alone cannot resolve");
  const std::string location = entries["location"];
  const fs::path relative(location);
  if (location.empty() || relative.is_absolute()) {
    invalid(source, label + " has external data location '" + location +
                        "' (must be a path relative to the model's folder)");
  }
  for (const auto& part : relative) {
    if (part == "..") {
      invalid(source, label + " has external data location '" + location +
                          "', which leaves the model's folder");
    }
  }
  auto parse_size = [&](const char* key, std::uint64_t fallback) -> std::uint64_t {
    const auto found = entries.find(key);
    if (found == entries.end()) return fallback;
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(found->second.c_str(), &end, 10);
    if (errno != 0 || end == found->second.c_str() || *end != '\0') {
      invalid(source, label + " has external data " + key + " = '" + found->second + "'");
    }
    return value;
  };
  const std::string path = (fs::path(dir) / relative).string();
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) io_failure("cannot open external data of " + label + ",", path);
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) io_failure("cannot stat", path);
  const std::uint64_t file_size = static_cast<std::uint64_t>(info.st_size);
  const std::uint64_t offset = parse_size("offset", 0);
  if (offset > file_size) {
    invalid(source, label + ": external data offset " + std::to_string(offset) +
                        " is past the end of '" + location + "' (" + std::to_string(file_size) +
                        " bytes)");
  }
  const std::uint64_t length = parse_size("length", file_size - offset);
  if (length > file_size - offset) {
    invalid(source, label + ": external data [" + std::to_string(offset) + ", +" +
                        std::to_string(length) + ") runs past the end of '" + location + "' (" +
                        std::to_string(file_size) + " bytes)");
  }
  const std::size_t size = element_bytes(tensor.data_type());
  const std::int64_t count = element_count(tensor);
  if (size == 0 || length != static_cast<std::uint64_t>(count) * size) {
    invalid(source, label + " (" + type_name(tensor.data_type()) + " " + dims_text(tensor.dims()) +
                        "): external data holds " + std::to_string(length) +
                        " bytes, its dims need " +
                        std::to_string(static_cast<std::uint64_t>(count) * size));
  }
  std::string bytes(length, '\0');
  std::size_t done = 0;
  while (done < length) {
    const ssize_t got =
        ::pread(file.fd, bytes.data() + done, length - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) io_failure("cannot read external data of " + label + " from", path);
    done += static_cast<std::size_t>(got);
  }
  tensor.set_raw_data(std::move(bytes));
  tensor.clear_external_data();
  tensor.clear_data_location();
}

void load_external_data(Model::Impl& impl, const std::string& dir, const std::string& source) {
  for_each_tensor(impl.proto, [&](pb::TensorProto& tensor) {
    if (tensor.data_location() != pb::TensorProto::EXTERNAL) return;
    read_external(tensor, dir, source);
    impl.external_tensors.insert(tensor.name());
  });
}

/// The initializers to move to the external data file when saving.
std::vector<pb::TensorProto*> external_candidates(Model::Impl& impl) {
  std::vector<pb::TensorProto*> tensors;
  for_each_graph(*impl.proto.mutable_graph(), "main",
                 [&](pb::GraphProto& graph, const std::string&) {
                   for (auto& tensor : *graph.mutable_initializer()) {
                     if (tensor.raw_data().size() >= kExternalThresholdBytes ||
                         impl.external_tensors.count(tensor.name()) != 0) {
                       tensors.push_back(&tensor);
                     }
                   }
                 });
  return tensors;
}

/// Moves tensors' raw_data out (into `held`) and points them at the data file; the
/// destructor puts everything back, so the in-memory model is unchanged by a save.
class ExternalizedTensors {
 public:
  ~ExternalizedTensors() {
    for (auto& [tensor, bytes] : held_) {
      tensor->clear_external_data();
      tensor->clear_data_location();
      tensor->set_raw_data(std::move(bytes));
    }
  }
  void move_out(pb::TensorProto& tensor, const std::string& location, std::uint64_t offset) {
    const std::uint64_t length = tensor.raw_data().size();
    held_.emplace_back(&tensor, std::move(*tensor.mutable_raw_data()));
    tensor.clear_raw_data();
    tensor.set_data_location(pb::TensorProto::EXTERNAL);
    auto add = [&](const char* key, const std::string& value) {
      auto* entry = tensor.add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    };
    add("location", location);
    add("offset", std::to_string(offset));
    add("length", std::to_string(length));
  }

 private:
  std::vector<std::pair<pb::TensorProto*, std::string>> held_;
};

}  // namespace

void parse_model_bytes(std::string_view bytes, const std::string& source,
                       const std::string& external_data_dir, Model::Impl& impl) {
  if (bytes.empty()) invalid(source, "is empty");
  if (bytes.size() > kProtobufLimitBytes) invalid(source, "is larger than protobuf's 2 GiB limit");
  io::ArrayInputStream stream(bytes.data(), static_cast<int>(bytes.size()));
  io::CodedInputStream coded(&stream);
  coded.SetTotalBytesLimit(INT_MAX);
  if (!impl.proto.ParseFromCodedStream(&coded) || !coded.ConsumedEntireMessage()) {
    invalid(source, "is truncated or not an ONNX model (protobuf parsing failed)");
  }
  check_is_model(impl.proto, source);
  load_external_data(impl, external_data_dir, source);
}

void load_model_file(const std::string& path, Model::Impl& impl) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) io_failure("cannot open", path);
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) io_failure("cannot stat", path);
  if (S_ISDIR(info.st_mode)) throw Error(ErrorCode::io_error, "'" + path + "' is a directory");
  if (info.st_size == 0) invalid(path, "is empty");
  if (static_cast<std::uint64_t>(info.st_size) > kProtobufLimitBytes) {
    invalid(path, "is larger than protobuf's 2 GiB limit (large weights belong in external data)");
  }
  {
    io::FileInputStream stream(file.fd);
    io::CodedInputStream coded(&stream);
    coded.SetTotalBytesLimit(INT_MAX);
    const bool parsed = impl.proto.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
    if (stream.GetErrno() != 0) {
      errno = stream.GetErrno();
      io_failure("cannot read", path);
    }
    if (!parsed) invalid(path, "is truncated or not an ONNX model (protobuf parsing failed)");
  }
  check_is_model(impl.proto, path);
  const fs::path dir = fs::path(path).parent_path();
  load_external_data(impl, dir.empty() ? "." : dir.string(), path);
}

void save_model_file(Model::Impl& impl, const std::string& path) {
  const bool had_external = !impl.external_tensors.empty();
  const bool too_large = impl.proto.ByteSizeLong() >= kProtobufLimitBytes;
  ExternalizedTensors externalized;
  std::optional<AtomicFile> data_file;
  if (had_external || too_large) {
    const std::string data_path = path + ".data";
    const std::string location = fs::path(data_path).filename().string();
    data_file.emplace(data_path);
    std::uint64_t offset = 0;
    const std::vector<char> zeros(kExternalAlignment, 0);
    for (pb::TensorProto* tensor : external_candidates(impl)) {
      const std::uint64_t padding =
          (kExternalAlignment - offset % kExternalAlignment) % kExternalAlignment;
      data_file->write(zeros.data(), padding);
      offset += padding;
      data_file->write(tensor->raw_data().data(), tensor->raw_data().size());
      const std::uint64_t length = tensor->raw_data().size();
      externalized.move_out(*tensor, location, offset);
      offset += length;
    }
    if (impl.proto.ByteSizeLong() >= kProtobufLimitBytes) {
      throw Error(ErrorCode::io_error,
                  "cannot save '" + path + "': the graph alone exceeds protobuf's 2 GiB limit");
    }
  }
  AtomicFile model_file(path);
  {
    io::FileOutputStream stream(model_file.fd());
    if (!impl.proto.SerializeToZeroCopyStream(&stream) || !stream.Flush()) {
      errno = stream.GetErrno();
      io_failure("cannot write", path);
    }
  }
  if (data_file) data_file->commit();
  model_file.commit();
}

}  // namespace bnrt::onnx::detail
