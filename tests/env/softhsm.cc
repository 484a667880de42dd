#include "env/softhsm.h"

#include <stdexcept>

#include "util/fs.h"

namespace sealift::testenv {

namespace fs = std::filesystem;

namespace {
void must(const RunResult& r, const std::string& what) {
  if (r.exit_code != 0) throw std::runtime_error(what + " failed: " + r.out + r.err);
}
}  // namespace

SoftHsm::SoftHsm(std::string label, std::string pin)
    : dir_("sealift-softhsm"), label_(std::move(label)), pin_(std::move(pin)) {
  fs::create_directories(dir_ / "tokens");
  const fs::path conf = dir_ / "softhsm2.conf";
  util::write_file_atomic(conf, "directories.tokendir = " + (dir_ / "tokens").string() +
                                    "\nobjectstore.backend = file\nlog.level = ERROR\n");
  conf_ = std::make_unique<ScopedEnv>("SOFTHSM2_CONF", conf.string());
  must(run({"softhsm2-util", "--init-token", "--free", "--label", label_, "--pin", pin_, "--so-pin", "13579"}),
       "softhsm2-util --init-token");
  pin_file_ = dir_ / "pin";
  util::write_file_atomic(pin_file_, pin_ + "\n", 0600);
}

fs::path SoftHsm::import_key(const std::string& object, const std::string& algorithm, const std::string& id) {
  const fs::path key = dir_ / (object + ".pem"), pub = dir_ / (object + ".pub");
  std::vector<std::string> gen = {"openssl", "genpkey", "-out", key.string()};
  if (algorithm == "P-256") gen.insert(gen.end(), {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"});
  else if (algorithm == "RSA") gen.insert(gen.end(), {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"});
  else gen.insert(gen.end(), {"-algorithm", algorithm});
  must(run(gen), "openssl genpkey " + algorithm);
  must(run({"openssl", "pkey", "-in", key.string(), "-pubout", "-out", pub.string()}), "openssl pkey -pubout");
  must(run({"softhsm2-util", "--import", key.string(), "--token", label_, "--label", object, "--id", id, "--pin", pin_}),
       "softhsm2-util --import");
  // The private key exists only in the token from here on, as with a vendor's HSM.
  fs::remove(key);
  return pub;
}

std::string SoftHsm::uri(const std::string& object) const { return "pkcs11:token=" + label_ + ";object=" + object; }

}  // namespace sealift::testenv
