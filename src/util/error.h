// The one error type of sealift: what failed, on which object, and what the user can do about it.
// main() turns it into a message and an exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace sealift {

enum class ErrorKind {
  Usage = 2,       // bad flags or arguments
  Input = 3,       // malformed file or reference given by the user
  Integrity = 4,   // digest, size or signature mismatch: content must not be trusted
  Network = 5,     // registry or API unreachable, timeouts, retries exhausted
  Remote = 6,      // the remote answered with a refusal (auth, permission, not found)
  Io = 7,          // local filesystem
  Tool = 8,        // an external tool (helm) failed
  Internal = 9,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, std::string hint = {})
      : std::runtime_error(std::move(message)), kind_(kind), hint_(std::move(hint)) {}

  ErrorKind kind() const { return kind_; }
  const std::string& hint() const { return hint_; }
  int exit_code() const { return static_cast<int>(kind_); }

 private:
  ErrorKind kind_;
  std::string hint_;
};

}  // namespace sealift
