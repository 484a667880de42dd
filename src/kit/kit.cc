#include "kit/kit.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <system_error>

#include <fmt/format.h>

#include "bundle/archive_reader.h"
#include "bundle/layout.h"
#include "bundle/parted_file.h"
#include "io/stream.h"
#include "oci/digest.h"
#include "sign/blob.h"
#include "sign/signature.h"
#include "tool/elf.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::kit {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kProgram = "sealift-install";
constexpr size_t kElfHeaderSize = 64;

[[noreturn]] void not_an_installer(const fs::path& tarball, const std::string& why) {
  throw Error(ErrorKind::Input, fmt::format("--installer {}: {}", tarball.string(), why),
              "give a release tarball (dist/sealift-<version>-linux-<arch>.tar.gz from scripts/release.sh)");
}

// The temporary directory of the kit; removed unless the kit was renamed into place.
class TempDir {
 public:
  explicit TempDir(const fs::path& output) {
    std::string pattern = (output.parent_path() / ("." + output.filename().string() + ".tmp-XXXXXX")).string();
    if (!::mkdtemp(pattern.data()))
      throw Error(ErrorKind::Io, fmt::format("cannot create a directory beside {}: {}", output.string(),
                                             std::error_code(errno, std::generic_category()).message()));
    path_ = pattern;
  }
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// Copies `from` to `to`, hashing on the way (each byte is read once); returns the digest.
oci::Digest copy_hashed(const fs::path& from, const fs::path& to, unsigned mode = 0644) {
  util::FileSource in(from);
  util::AtomicFile out(to, mode);
  oci::HashingSink hashing(&out);
  io::copy(in, hashing);
  out.commit();
  return hashing.finish();
}

oci::Digest write_hashed(const fs::path& to, const std::string& text) {
  util::write_file_atomic(to, text);
  oci::Sha256 h;
  h.update(text);
  return h.finish();
}

void check_signed_by(const fs::path& bundle, const sign::PublicKey& key) {
  bundle::ArchiveReader reader(bundle);
  if (!reader.find(bundle::kRootSignatureFile))
    throw Error(ErrorKind::Integrity, fmt::format("{}: the bundle is unsigned: it has no sealift.json.sig", bundle.string()));
  std::string root = reader.read_small(bundle::kRootFile);
  io::MemorySource content(root);
  try {
    sign::verify_blob(sign::TrustedKeys({key}), content, reader.read_small(bundle::kRootSignatureFile, 64 << 10),
                      "sealift.json");
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::Integrity) throw;
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: the bundle is not signed by the key {} ({})", bundle.string(), key.fingerprint(), e.what()),
                "sign the kit with the key the bundle was built with: the site checks both with one cosign.pub");
  }
}

}  // namespace

Installer inspect_installer(const fs::path& tarball) {
  std::error_code ec;
  if (!fs::is_regular_file(tarball, ec)) not_an_installer(tarball, "no such file");
  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_filename(a.get(), tarball.c_str(), 1 << 16) != ARCHIVE_OK)
    not_an_installer(tarball, fmt::format("not a tarball ({})", archive_error_string(a.get())));
  archive_entry* e = nullptr;
  for (;;) {
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      not_an_installer(tarball, fmt::format("not a tarball ({})", archive_error_string(a.get())));
    std::string name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (fs::path(name).filename() != kProgram || archive_entry_filetype(e) != AE_IFREG) continue;
    std::string header(kElfHeaderSize, '\0');
    la_ssize_t got = archive_read_data(a.get(), header.data(), header.size());
    if (got < 0) not_an_installer(tarball, fmt::format("cannot read {} ({})", name, archive_error_string(a.get())));
    header.resize(static_cast<size_t>(got));
    std::string platform = tool::elf_platform_of(header, fmt::format("--installer {}: {}", tarball.string(), name));
    return {tarball, name, platform};
  }
  not_an_installer(tarball, fmt::format("it holds no {}", kProgram));
}

Kit write_kit(const KitOptions& o, const sign::Signer& key) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(o.output, ec)) &&
      !(fs::is_directory(o.output, ec) && fs::is_empty(o.output, ec)))
    throw Error(ErrorKind::Usage, fmt::format("-o {}: exists and is not an empty directory", o.output.string()),
                "name a new directory: a kit is written whole or not at all");
  fs::path output = fs::absolute(o.output).lexically_normal();
  if (output.filename().empty()) output = output.parent_path();

  const sign::PublicKey public_key = key.public_key();
  check_signed_by(o.bundle, public_key);
  Kit kit;
  kit.key_fingerprint = public_key.fingerprint();
  for (const auto& t : o.installers) kit.installers.push_back(inspect_installer(t));

  // What goes in, by name: the bundle's parts (and their checksum file) or the bundle, the installers.
  std::map<std::string, fs::path> sources;
  auto add = [&](const fs::path& file) {
    std::string name = file.filename().string();
    if (!sources.emplace(name, file).second)
      throw Error(ErrorKind::Usage, fmt::format("two files named {} would go into the kit", name),
                  "rename one of them");
  };
  const std::vector<fs::path> bundle_files = bundle::PartedFile(o.bundle).paths();
  for (const auto& p : bundle_files) add(p);
  bool parted = bundle_files.size() > 1 || bundle_files.front() != o.bundle || o.bundle.extension() == ".000";
  fs::path base = parted ? fs::path(bundle_files.front()).replace_extension() : o.bundle;
  if (parted && fs::is_regular_file(bundle::checksum_path(base), ec)) add(bundle::checksum_path(base));
  for (const auto& i : kit.installers) add(i.file);
  for (const char* own : {"SHA256SUMS", "SHA256SUMS.sig", "cosign.pub", "README.txt"})
    if (sources.count(own))
      throw Error(ErrorKind::Usage, fmt::format("{} would replace the kit's own {}", sources.at(own).string(), own),
                  "rename it");

  TempDir tmp(output);
  std::map<std::string, oci::Digest> sums;
  for (const auto& [name, from] : sources) sums.emplace(name, copy_hashed(from, tmp.path() / name));
  sums.emplace("cosign.pub", write_hashed(tmp.path() / "cosign.pub", public_key.pem()));
  std::string install_name = (parted ? bundle_files.front() : o.bundle).filename().string();
  sums.emplace("README.txt", write_hashed(tmp.path() / "README.txt", readme(install_name, kit.installers, public_key)));
  std::string listing;
  for (const auto& [name, digest] : sums) listing += fmt::format("{}  {}\n", digest.hex(), name);
  util::write_file_atomic(tmp.path() / "SHA256SUMS", listing);
  io::MemorySource listed(listing);
  util::write_file_atomic(tmp.path() / "SHA256SUMS.sig", sign::sign_blob(key, listed));

  if (::chmod(tmp.path().c_str(), 0755) != 0 || ::rename(tmp.path().c_str(), output.c_str()) != 0)
    throw Error(ErrorKind::Io, fmt::format("cannot move the kit into place at {}: {}", output.string(),
                                           std::error_code(errno, std::generic_category()).message()));
  tmp.release();
  kit.dir = output;
  for (const auto& [name, digest] : sums) kit.files.push_back(name);
  kit.files.push_back("SHA256SUMS");
  kit.files.push_back("SHA256SUMS.sig");
  std::sort(kit.files.begin(), kit.files.end());
  return kit;
}

std::string readme(const std::string& bundle_name, const std::vector<Installer>& installers, const sign::PublicKey& key) {
  // ECDSA signs the SHA-256 of the file; Ed25519 signs the file itself (pure Ed25519, as cosign's
  // sign-blob), which openssl checks with pkeyutl -rawin.
  bool ecdsa = key.type() == sign::KeyType::EcdsaP256;
  std::string check = ecdsa ? "openssl dgst -sha256 -verify cosign.pub -signature <(base64 -d SHA256SUMS.sig) SHA256SUMS"
                            : "openssl pkeyutl -verify -pubin -inkey cosign.pub -rawin -in SHA256SUMS -sigfile <(base64 -d "
                              "SHA256SUMS.sig)";
  std::string verified = ecdsa ? "Verified OK" : "Signature Verified Successfully";
  std::string s = fmt::format(
      "sealift transfer kit: {}\n"
      "\n"
      "Signed with the key {}\n"
      "(the SHA-256 of cosign.pub's DER form: openssl pkey -pubin -in cosign.pub -outform DER | sha256sum).\n"
      "Compare it with the fingerprint your vendor gave you by another channel: a kit can only vouch\n"
      "for itself with a key you already trust.\n"
      "\n"
      "Run these in this directory, in bash, in order; stop at the first that fails.\n"
      "\n"
      "1. The signature of the checksums (prints \"{}\"):\n"
      "\n"
      "    {}\n"
      "\n"
      "2. Every file against the checksums (every line \"OK\"):\n"
      "\n"
      "    sha256sum -c SHA256SUMS\n"
      "\n"
      "3. Unpack the installer for this host's platform (uname -m: x86_64 is amd64, aarch64 is arm64):\n"
      "\n",
      bundle_name, key.fingerprint(), verified, check);
  for (const auto& i : installers)
    s += fmt::format("    tar -xf {}    # {}\n", i.file.filename().string(), i.platform);
  s += "\n4. Verify, push and install (sealift-install --help, and README.md of sealift, say more):\n\n";
  std::string program = installers.empty() ? std::string("sealift-install") : "./" + installers.front().program;
  s += fmt::format(
      "    {} install {} --key cosign.pub --registry REGISTRY --project PROJECT \\\n"
      "        -n NAMESPACE -f my-values.yaml [--ca-file registry-ca.pem]\n",
      program, bundle_name);
  if (installers.size() > 1) s += "    (the program of your platform's tarball: ./sealift-<version>-linux-<arch>/sealift-install)\n";
  return s;
}

}  // namespace sealift::kit
