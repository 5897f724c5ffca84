// Error: the value every fallible operation returns (as std::expected<T, Error>).
// The kind tells the caller what to do; code/requestId carry AWS detail when there is any.
// Messages never contain secrets, signatures or credentials.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace endpointbinder::core {

enum class ErrorKind {
  kRetryable,  // transient: throttling, 5xx, timeout, reset; try again later
  kTerminal,   // will fail again until the input changes (validation, bad request)
  kAuth,       // credentials missing/expired/invalid or permission denied
  kNotFound,   // the thing named does not exist (target group, hosted zone)
  kConflict,   // owned by someone else
};

const char* errorKindName(ErrorKind kind);  // "Retryable", "Terminal", "Auth", "NotFound", ...

struct Error {
  ErrorKind kind = ErrorKind::kTerminal;
  std::string message;
  std::string code;       // AWS error code ("Throttling"), DNS rcode name, or empty
  std::string requestId;  // AWS request id, or empty
  int httpStatus = 0;     // 0 when no HTTP response was received

  // "Throttling: Rate exceeded (request id 1234, HTTP 400)". Empty parts are left out
  // ("Rate exceeded", "Throttling (HTTP 400)"); with neither code nor message the kind's name
  // stands in ("Retryable"). Only the fields are printed, so it holds no secret as long as
  // the producers keep secrets out of message and code (their contract).
  std::string toString() const;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> makeError(ErrorKind kind, std::string message,
                                        std::string code = {}) {
  return std::unexpected(Error{kind, std::move(message), std::move(code), {}, 0});
}

}  // namespace endpointbinder::core
