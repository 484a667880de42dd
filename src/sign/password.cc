#include "sign/password.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::sign {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxPassword = 64 * 1024;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

void drop_newline(Secret& s) {
  std::string_view v = s.view();
  if (!v.empty() && v.back() == '\n') s.truncate(s.size() - 1);
  v = s.view();
  if (!v.empty() && v.back() == '\r') s.truncate(s.size() - 1);
}

Secret from_file(const fs::path& path, std::string_view what) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || fstat(fd.get(), &st) != 0)
    throw Error(ErrorKind::Io, fmt::format("cannot read the {} file {}: {}", what, path.string(), std::strerror(errno)));
  if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) > kMaxPassword)
    throw Error(ErrorKind::Usage, fmt::format("the {} file {} is not a regular file of at most 64 KiB", what, path.string()));
  // Read straight into the wiped buffer: no intermediate std::string copy of the password.
  Secret s(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < s.size()) {
    ssize_t n = read(fd.get(), s.data() + got, s.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw Error(ErrorKind::Io, fmt::format("cannot read the {} file {}: {}", what, path.string(), std::strerror(errno)));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  s.truncate(got);
  drop_newline(s);
  return s;
}

// Restores the terminal's echo however the prompt ends.
class EchoOff {
 public:
  explicit EchoOff(int fd) : fd_(fd) {
    ok_ = tcgetattr(fd_, &saved_) == 0;
    if (!ok_) return;
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    // TCSANOW, not TCSAFLUSH: a password typed ahead must not be thrown away.
    tcsetattr(fd_, TCSANOW, &quiet);
  }
  ~EchoOff() {
    if (ok_) tcsetattr(fd_, TCSANOW, &saved_);
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool ok_ = false;
};

Secret prompt_once(int tty, std::string_view prompt, std::string_view what) {
  if (write(tty, prompt.data(), prompt.size()) < 0)
    throw Error(ErrorKind::Io, fmt::format("cannot write the {} prompt: {}", what, std::strerror(errno)));
  Secret line(4096);
  size_t len = 0;
  {
    EchoOff quiet(tty);
    for (;;) {
      unsigned char c = 0;
      ssize_t n = read(tty, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error(ErrorKind::Io, fmt::format("cannot read the {}: {}", what, std::strerror(errno)));
      if (n == 0 || c == '\n') break;
      if (len == line.size()) throw Error(ErrorKind::Usage, fmt::format("the {} is longer than 4096 bytes", what));
      line.data()[len++] = c;
    }
  }
  line.truncate(len);
  drop_newline(line);
  return line;
}

std::string missing(const PasswordOptions& o) {
  return fmt::format("no {}: set {} or --{}-file", o.what, o.env_var, o.what == "password" ? "password" : "pin");
}

Secret from_terminal(const PasswordOptions& o) {
  Fd tty(open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (tty.get() < 0) throw Error(ErrorKind::Usage, missing(o), "no terminal is available to prompt for it");
  Secret first = prompt_once(tty.get(), o.prompt, o.what);
  if (!o.confirm) return first;
  Secret second = prompt_once(tty.get(), o.confirm_prompt, o.what);
  if (!first.equals(second)) throw Error(ErrorKind::Usage, fmt::format("the {}s do not match", o.what));
  return first;
}

}  // namespace

Secret read_password(const PasswordOptions& options) {
  if (!options.password_file.empty()) return from_file(options.password_file, options.what);
  if (const char* env = std::getenv(options.env_var.c_str())) return Secret::copy_of(env);
  if (isatty(STDIN_FILENO)) return from_terminal(options);
  throw Error(ErrorKind::Usage, missing(options),
              options.what == "password" ? "COSIGN_PASSWORD may be set to an empty value for a key without a password"
                                         : "");
}

}  // namespace sealift::sign
