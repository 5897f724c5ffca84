#include "controller/core/error.h"

namespace endpointbinder::core {

const char* errorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kRetryable:
      return "Retryable";
    case ErrorKind::kTerminal:
      return "Terminal";
    case ErrorKind::kAuth:
      return "Auth";
    case ErrorKind::kNotFound:
      return "NotFound";
    case ErrorKind::kConflict:
      return "Conflict";
  }
  return "Unknown";
}

std::string Error::toString() const {
  std::string text = code;
  if (!message.empty()) {
    if (!text.empty()) text += ": ";
    text += message;
  }
  if (text.empty()) text = errorKindName(kind);

  std::string detail;
  if (!requestId.empty()) detail = "request id " + requestId;
  if (httpStatus != 0) {
    if (!detail.empty()) detail += ", ";
    detail += "HTTP " + std::to_string(httpStatus);
  }
  if (!detail.empty()) text += " (" + detail + ")";
  return text;
}

}  // namespace endpointbinder::core
