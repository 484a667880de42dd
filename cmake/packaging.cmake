# `cmake --install` and CPack (issue 26 item 5): both programs, a man page for each (help2man from
# their --help), bash and zsh completions (scripts/completions.sh, from their --help too), and the
# docs; `cpack` in a build directory makes a .deb and an .rpm of that directory's programs. The
# release (scripts/release.sh) configures its own build of the portable binaries and runs `cpack`
# there: nothing here assumes this machine's compiler or libraries.
include(GNUInstallDirs)

install(TARGETS sealift-bundle sealift-install RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")

# Man pages and completions run the programs at build time. A cross build (arm64 on amd64) runs
# them through qemu-user's binfmt handler (Debian's qemu-user-static, binfmt-support); without
# one, turn this off and the packages carry the programs and docs only.
find_program(SEALIFT_HELP2MAN help2man)
if(SEALIFT_HELP2MAN)
  set(generated_docs_default ON)
else()
  set(generated_docs_default OFF)
endif()
option(SEALIFT_GENERATED_DOCS "Generate man pages (help2man) and shell completions from the programs' --help"
       ${generated_docs_default})
if(SEALIFT_GENERATED_DOCS)
  if(NOT SEALIFT_HELP2MAN)
    message(FATAL_ERROR "SEALIFT_GENERATED_DOCS needs help2man (Debian package help2man)")
  endif()
  set(generated ${PROJECT_BINARY_DIR}/generated)
  set(outputs)
  foreach(program sealift-bundle sealift-install)
    add_custom_command(
      OUTPUT ${generated}/man/${program}.1 ${generated}/bash/${program} ${generated}/zsh/_${program}
      COMMAND ${PROJECT_SOURCE_DIR}/scripts/completions.sh man $<TARGET_FILE:${program}> ${program}
              ${generated}/man/${program}.1 ${PROJECT_VERSION}
      COMMAND ${PROJECT_SOURCE_DIR}/scripts/completions.sh bash $<TARGET_FILE:${program}> ${program}
              ${generated}/bash/${program}
      COMMAND ${PROJECT_SOURCE_DIR}/scripts/completions.sh zsh $<TARGET_FILE:${program}> ${program}
              ${generated}/zsh/_${program}
      DEPENDS ${program} ${PROJECT_SOURCE_DIR}/scripts/completions.sh
      COMMENT "Man page and completions of ${program}")
    list(APPEND outputs ${generated}/man/${program}.1 ${generated}/bash/${program} ${generated}/zsh/_${program})
    install(FILES ${generated}/man/${program}.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
    install(FILES ${generated}/bash/${program} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
    install(FILES ${generated}/zsh/_${program} DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
  endforeach()
  add_custom_target(sealift-docs ALL DEPENDS ${outputs})
endif()

# The repository carries no LICENSE file yet: the packages say what this is set to.
set(SEALIFT_PACKAGE_LICENSE "LicenseRef-Proprietary" CACHE STRING "License named in the .deb and .rpm")
set(SEALIFT_PACKAGE_MAINTAINER "sealift maintainers <sealift@example.com>" CACHE STRING
    "Maintainer named in the .deb and .rpm")

set(CPACK_PACKAGE_NAME sealift)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "sealift")
set(CPACK_PACKAGE_CONTACT ${SEALIFT_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Signed, air-gap ready bundles of Helm applications, and their installer")
set(CPACK_PACKAGE_DESCRIPTION
    "sealift-bundle builds a signed, compressed OCI-layout bundle of a Helm chart and its images; sealift-install "
    "verifies it fail-closed, pushes it into Harbor or any OCI registry, installs it with helm, and can serve it "
    "as a read-only registry.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB RPM)
set(CPACK_STRIP_FILES OFF)  # the release strips (or not) before packaging; cpack does not decide that

# The architecture is the programs' (CMAKE_SYSTEM_PROCESSOR: the target of a cross build), in
# each format's spelling.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
  set(CPACK_RPM_PACKAGE_ARCHITECTURE x86_64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
  set(CPACK_RPM_PACKAGE_ARCHITECTURE aarch64)
else()
  message(STATUS "sealift packages: no package architecture for ${CMAKE_SYSTEM_PROCESSOR}")
endif()
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/sealift/sealift")
set(CPACK_RPM_PACKAGE_LICENSE ${SEALIFT_PACKAGE_LICENSE})
set(CPACK_RPM_PACKAGE_GROUP "Applications/System")
set(CPACK_RPM_PACKAGE_URL ${CPACK_DEBIAN_PACKAGE_HOMEPAGE})
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}\n ${CPACK_PACKAGE_DESCRIPTION}")
# No dependencies computed from the binaries: the release's programs link every library
# statically and need only glibc 2.28. dpkg-shlibdeps and rpm's find-requires would write this
# build machine's sonames and versions (Debian 12's libssl3, GLIBC_2.34 of a native build) into
# the packages, which then refuse to install on RHEL 8 or Debian 11, where the programs run.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.28)")
set(CPACK_RPM_PACKAGE_AUTOREQ OFF)
set(CPACK_RPM_PACKAGE_AUTOPROV OFF)
set(CPACK_RPM_PACKAGE_REQUIRES "glibc >= 2.28")
# The rpm must not claim the directories every system owns (rpm -V and other packages complain).
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /usr/share/man /usr/share/man/man1 /usr/share/bash-completion /usr/share/bash-completion/completions
    /usr/share/zsh /usr/share/zsh/vendor-completions /usr/share/doc)
# Byte-identical packages from identical inputs (SOURCE_DATE_EPOCH is honoured by dpkg-deb and
# rpmbuild); rpm's build host and build id would differ between machines.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none\n%define _buildhost sealift-release")
include(CPack)
