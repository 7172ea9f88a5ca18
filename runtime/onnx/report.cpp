// PassReport's JSON and human renderings (see include/bnrt/onnx.hpp).
#include <cmath>
#include <cstdio>

#include "bnrt/onnx.hpp"

namespace bnrt::onnx {
namespace {

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char raw : text) {
    const auto ch = static_cast<unsigned char>(raw);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (ch < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", ch);
          out += escaped;
        } else {
          out += raw;
        }
    }
  }
  return out + "\"";
}

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

std::string json_list(const std::vector<std::size_t>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += (i ? "," : "") + std::to_string(values[i]);
  }
  return out + "]";
}

std::string fold_json(const FoldReport& fold) {
  return "{\"folded\":" + std::string(fold.folded ? "true" : "false") +
         ",\"refusal\":" + json_string(fold.refusal) +
         ",\"type\":" + json_string(weight_type_name(fold.type)) +
         ",\"channels\":" + std::to_string(fold.channels) +
         ",\"max_abs_scale\":" + json_number(fold.max_abs_scale) +
         ",\"max_abs_scale_channel\":" + std::to_string(fold.max_abs_scale_channel) +
         ",\"dead_channels\":" + json_list(fold.dead_channels) +
         ",\"large_scale_channels\":" + json_list(fold.large_scale_channels) +
         ",\"overflow_channels\":" + json_list(fold.overflow_channels) +
         ",\"subnormal_channels\":" + json_list(fold.subnormal_channels) +
         ",\"max_abs_weight\":" + json_number(fold.max_abs_weight) +
         ",\"max_abs_bias\":" + json_number(fold.max_abs_bias) +
         ",\"rounding_bound\":" + json_number(fold.rounding_bound) + "}";
}

}  // namespace

std::string_view outcome_name(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::folded_into_producer:
      return "folded_into_producer";
    case Outcome::folded_into_consumer:
      return "folded_into_consumer";
    case Outcome::kept:
      return "kept";
  }
  return "?";
}

std::size_t PassReport::folded() const noexcept {
  std::size_t count = 0;
  for (const auto& decision : decisions) count += decision.outcome != Outcome::kept;
  return count;
}

std::size_t PassReport::kept() const noexcept { return decisions.size() - folded(); }

std::string PassReport::to_json() const {
  std::string out =
      "{\"batch_norms\":" + std::to_string(decisions.size()) +
      ",\"folded\":" + std::to_string(folded()) + ",\"kept\":" + std::to_string(kept()) +
      ",\"nodes_before\":" + std::to_string(nodes_before) +
      ",\"nodes_after\":" + std::to_string(nodes_after) +
      ",\"initializers_before\":" + std::to_string(initializers_before) +
      ",\"initializers_after\":" + std::to_string(initializers_after) + ",\"decisions\":[";
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    const BatchNormDecision& d = decisions[i];
    out += std::string(i ? "," : "") + "{\"graph\":" + json_string(d.graph) +
           ",\"node\":" + json_string(d.node) +
           ",\"outcome\":" + json_string(outcome_name(d.outcome)) +
           ",\"target\":" + json_string(d.target) + ",\"target_op\":" + json_string(d.target_op) +
           ",\"reason\":" + json_string(d.reason) +
           ",\"fold\":" + (d.fold_attempted ? fold_json(d.fold) : "null") + "}";
  }
  out += "],\"check\":{\"ran\":" + std::string(check.ran ? "true" : "false") +
         ",\"passed\":" + (check.passed ? "true" : "false") +
         ",\"message\":" + json_string(check.message) + "}";
  out += ",\"verify\":{\"ran\":" + std::string(verify.ran ? "true" : "false") +
         ",\"passed\":" + (verify.passed ? "true" : "false") +
         ",\"max_abs_diff\":" + json_number(verify.max_abs_diff) +
         ",\"max_rel_diff\":" + json_number(verify.max_rel_diff) +
         ",\"tolerance\":" + json_number(verify.tolerance) +
         ",\"samples\":" + std::to_string(verify.samples) +
         ",\"message\":" + json_string(verify.message) + "}}";
  return out;
}

std::string PassReport::summary() const {
  std::string text;
  char line[256];
  for (const BatchNormDecision& d : decisions) {
    const std::string where = d.graph == "main" ? d.node : d.graph + ": " + d.node;
    if (d.outcome == Outcome::kept) {
      text += "  kept    " + where + ": " + d.reason + "\n";
      continue;
    }
    std::snprintf(line, sizeof line, "  folded  %s -> %s (%s, %s); max |scale| %.4g", where.c_str(),
                  d.target.c_str(), d.target_op.c_str(),
                  d.outcome == Outcome::folded_into_producer ? "after it" : "before it",
                  d.fold.max_abs_scale);
    text += line;
    if (!d.fold.dead_channels.empty()) {
      text += "; " + std::to_string(d.fold.dead_channels.size()) + " dead channel(s)";
    }
    if (!d.fold.large_scale_channels.empty()) {
      text += "; " + std::to_string(d.fold.large_scale_channels.size()) + " |scale| > 1000";
    }
    if (!d.fold.subnormal_channels.empty()) {
      text += "; " + std::to_string(d.fold.subnormal_channels.size()) + " subnormal channel(s)";
    }
    if (!d.reason.empty()) text += "; " + d.reason;
    text += "\n";
  }
  std::snprintf(line, sizeof line,
                "%zu BatchNormalization: %zu folded, %zu kept; nodes %zu -> %zu, initializers %zu "
                "-> %zu\n",
                decisions.size(), folded(), kept(), nodes_before, nodes_after, initializers_before,
                initializers_after);
  text += line;
  if (check.ran) {
    text +=
        std::string("checker: ") + (check.passed ? "passed" : "FAILED: " + check.message) + "\n";
  } else if (!check.message.empty()) {
    text += "checker: skipped (" + check.message + ")\n";
  }
  if (verify.ran) {
    std::snprintf(line, sizeof line,
                  "verify: %s: max |diff| %.3g, max relative diff %.3g (tolerance %.3g) over %d "
                  "random input set(s)\n",
                  verify.passed ? "passed" : "FAILED", verify.max_abs_diff, verify.max_rel_diff,
                  verify.tolerance, verify.samples);
    text += line;
  } else if (!verify.message.empty()) {
    text += "verify: skipped (" + verify.message + ")\n";
  }
  return text;
}

}  // namespace bnrt::onnx
