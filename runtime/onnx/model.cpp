// bnrt::onnx::Model, the public face of the ONNX library (see include/bnrt/onnx.hpp).
#include <onnx/checker.h>

#include "bn_fold_pass.hpp"
#include "bnrt/error.hpp"
#include "model_io.hpp"
#include "proto.hpp"

namespace bnrt::onnx {

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Model Model::load(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  detail::load_model_file(path, *impl);
  return Model(std::move(impl));
}

Model Model::parse(std::string_view bytes, const std::string& external_data_dir) {
  auto impl = std::make_unique<Impl>();
  detail::parse_model_bytes(bytes, "model bytes", external_data_dir, *impl);
  return Model(std::move(impl));
}

Model Model::copy() const { return Model(std::make_unique<Impl>(*impl_)); }

PassReport Model::fold_batch_norms(const FoldOptions& options) {
  return detail::run_fold_pass(impl_->proto, options);
}

CheckResult Model::check() const {
  CheckResult result;
  if (impl_->proto.ir_version() > pb::IR_VERSION) {
    result.message = "the model's IR version " + std::to_string(impl_->proto.ir_version()) +
                     " is newer than this build's ONNX checker knows (" +
                     std::to_string(pb::IR_VERSION) + ")";
    return result;
  }
  result.ran = true;
  try {
    ::onnx::checker::check_model(impl_->proto);
    result.passed = true;
  } catch (const std::exception& e) {
    result.message = e.what();
  }
  return result;
}

void Model::save(const std::string& path) { detail::save_model_file(*impl_, path); }

std::string Model::serialize() const {
  std::string bytes;
  if (!impl_->proto.SerializeToString(&bytes)) {
    throw Error(ErrorCode::io_error, "cannot serialize the model (over protobuf's 2 GiB limit?)");
  }
  return bytes;
}

std::size_t Model::node_count() const { return detail::count_nodes(impl_->proto); }
std::size_t Model::batch_norm_count() const { return detail::count_batch_norms(impl_->proto); }
std::int64_t Model::opset() const { return detail::default_opset(impl_->proto); }

}  // namespace bnrt::onnx
