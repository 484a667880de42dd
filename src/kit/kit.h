// The transfer kit: one directory for the removable medium that carries a bundle across the air
// gap together with the program that reads it. It holds the bundle (or its parts), the installer
// tarballs for the site's platforms, SHA256SUMS over every other file, SHA256SUMS.sig made with
// the bundle's key (what `cosign sign-blob` writes), cosign.pub, and README.txt with the commands
// a site runs: check the signature with openssl, `sha256sum -c`, unpack, install.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sign/key.h"

namespace sealift::kit {

// An installer tarball as the kit checked it.
struct Installer {
  std::filesystem::path file;
  std::string program;   // the path of sealift-install inside it ("sealift-0.1.0-linux-amd64/sealift-install")
  std::string platform;  // "linux/amd64", from its ELF header
};

// Reads `tarball` (any compression libarchive reads) and finds sealift-install in it: a regular
// file of that name, at any depth, that is a Linux executable for amd64 or arm64. Throws
// Error(Input) naming the file when it is not a tarball or holds no such program.
Installer inspect_installer(const std::filesystem::path& tarball);

struct KitOptions {
  std::filesystem::path bundle;  // the bundle file, or its first part (.000)
  std::vector<std::filesystem::path> installers;
  std::filesystem::path output;  // a directory that does not exist yet, or is empty
};

struct Kit {
  std::filesystem::path dir;
  std::vector<std::string> files;  // every file in the kit, by name, sorted
  std::vector<Installer> installers;
  std::string key_fingerprint;     // of the public key in cosign.pub
};

// Writes the kit into a temporary directory beside `output`, then renames it there; a failure
// leaves nothing. The bundle's own signature (sealift.json.sig) must verify with `key`'s public
// key, so that the cosign.pub in the kit is the one `sealift-install --key` needs. Throws
// Error(Usage) for an output that exists and is not an empty directory, or two files of one name;
// Error(Input) for an installer that is not one (inspect_installer); Error(Integrity) when the
// bundle is not signed by `key`.
Kit write_kit(const KitOptions& options, const sign::Signer& key);

// README.txt of a kit: the commands a site runs, in order, with the kit's file names in them;
// `bundle_name` is what sealift-install is given (the first part of a split bundle).
std::string readme(const std::string& bundle_name, const std::vector<Installer>& installers, const sign::PublicKey& key);

}  // namespace sealift::kit
