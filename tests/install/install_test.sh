#!/bin/sh
# install_test.sh BUILD_DIR SOURCE_DIR [SANITIZE]: install the built tree into a
# temporary prefix (cmake --install --prefix) and use it as a user would:
#   - the files are where GNUInstallDirs puts them (libnwreg.so + soname
#     links, libnwreg.a, nwreg.h, bin/nwreg, nwreg.pc, the CMake package,
#     the man page);
#   - examples/api.c and the C example of README.md (cut out of README.md
#     here, so the README cannot drift) are compiled through pkg-config
#     (shared, and static from Libs.private) and through find_package(nwreg)
#     in a tiny CMake project (nwreg::nwreg and nwreg::nwreg_static), and
#     each program is run: it must print the LOO optimum of the notebook's
#     data, w = 3.3702;
#   - the installed tree still works after being moved (nwreg.pc and the
#     package find the prefix relative to themselves);
#   - the installed nwreg runs and man finds its page.
# SANITIZE: the build's NW_SANITIZE (e.g. address,undefined), so that the
# programs are built with the same -fsanitize as the library they link.
# Prints "ok - NAME" / "not ok - NAME", then "N passed, M failed".
BUILD=${1:?usage: install_test.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: install_test.sh BUILD_DIR SOURCE_DIR}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
case $SRC in /*) ;; *) SRC=$(pwd)/$SRC ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/nwreg-install.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
export OMP_NUM_THREADS=2
CC=${CC:-cc}
WANT="LOO optimum: w = 3.3702"

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    [ -s log ] && sed 's/^/#   /' log | tail -5
}
check() { name=$1; shift; if "$@" >log 2>&1; then ok "$name"; else not_ok "$name"; fi; }
# prints_optimum PROGRAM: runs it; its output has the notebook's LOO optimum
prints_optimum() { "$@" >run.out 2>&1 && grep -q -F "$WANT" run.out || { cat run.out; return 1; }; }

P=$T/prefix
check "cmake --install --prefix into a temporary prefix" cmake --install "$BUILD" --prefix "$P"
# where GNUInstallDirs put the libraries (lib, lib64 or lib/<triplet>)
LIBDIR=$(dirname "$(find "$P" -name libnwreg.a | head -1)")
have_files() {
    for f in "$LIBDIR/libnwreg.a" "$LIBDIR/libnwreg.so" "$LIBDIR/libnwreg.so.0" \
             "$P/include/nwreg.h" "$P/bin/nwreg" "$LIBDIR/pkgconfig/nwreg.pc" \
             "$LIBDIR/cmake/nwreg/nwregConfig.cmake" "$LIBDIR/cmake/nwreg/nwregConfigVersion.cmake" \
             "$P/share/man/man1/nwreg.1"; do
        [ -s "$f" ] || { echo "missing: $f"; return 1; }
    done
    [ -L "$LIBDIR/libnwreg.so" ] && [ -L "$LIBDIR/libnwreg.so.0" ] || { echo "soname links are not links"; return 1; }
    readelf -d "$LIBDIR/libnwreg.so" | grep -q 'SONAME.*\[libnwreg\.so\.0\]' || { echo "SONAME is not libnwreg.so.0"; return 1; }
}
check "installed: libnwreg.so (+ soname links), libnwreg.a, nwreg.h, nwreg, nwreg.pc, CMake package, man page" have_files
check "installed nwreg --version runs" sh -c '"$1/bin/nwreg" --version | grep -q "^nwreg [0-9]"' sh "$P"
check "man finds the installed page" sh -c 'MANPATH="$1/share/man" MANWIDTH=80 man nwreg 2>&1 | grep -q "nwreg plot"' sh "$P"

# the README's C example: the first ```c block after "## The C API"
awk '/^## The C API/ { on = 1 } on && /^```c$/ { keep = 1; next } keep && /^```$/ { exit } keep' \
    "$SRC/README.md" > readme.c
check "README.md has a C example under '## The C API'" sh -c '[ "$(grep -c "nw_model_new" readme.c)" -ge 1 ]'
cp "$SRC/examples/api.c" api.c

WARN="-std=c11 -Wall -Wextra -Werror${3:+ -fsanitize=$3}"
# ---------------------------------------------------------- pkg-config
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
pc_shared() {
    # $1 source, $2 program; rpath from the .pc so the program runs as is
    $CC $WARN "$1" -o "$2" $(pkg-config --cflags --libs nwreg) \
        -Wl,-rpath,"$(pkg-config --variable=libdir nwreg)" && prints_optimum "./$2" &&
        uses_installed_so "./$2"
}
# uses_installed_so PROGRAM: it loads libnwreg.so.0 from the prefix
uses_installed_so() {
    dir=$(ldd "$1" | sed -n 's|.*libnwreg\.so\.0 => \(.*\)/libnwreg\.so\.0 .*|\1|p')
    [ -n "$dir" ] && [ "$(cd "$dir" && pwd -P)" = "$(cd "$LIBDIR" && pwd -P)" ] ||
        { echo "libnwreg.so.0 loaded from '$dir', not $LIBDIR"; return 1; }
}
# is_static PROGRAM: it runs and does not load libnwreg.so
is_static() { prints_optimum "$1" && ! ldd "$1" | grep -q libnwreg; }
pc_static() {
    # libnwreg.a chosen explicitly; everything else from --static --libs
    others=$(pkg-config --static --libs nwreg | tr ' ' '\n' | grep -v -x -e '-lnwreg' | tr '\n' ' ')
    $CC $WARN "$1" -o "$2" $(pkg-config --cflags nwreg) -Wl,-Bstatic -lnwreg -Wl,-Bdynamic $others &&
        is_static "./$2"
}
check "pkg-config: nwreg.pc has version $(sed -n 's/^project(nwreg VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")" \
    sh -c '[ "$(pkg-config --modversion nwreg)" = "$1" ]' sh \
    "$(sed -n 's/^project(nwreg VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")"
check "pkg-config: examples/api.c against libnwreg.so runs" pc_shared api.c api_pc
check "pkg-config: examples/api.c against libnwreg.a (Libs.private) runs" pc_static api.c api_pc_static
check "pkg-config: the README's example against libnwreg.so runs" pc_shared readme.c readme_pc
check "pkg-config: the README's example against libnwreg.a runs" pc_static readme.c readme_pc_static

# ---------------------------------------------------------- find_package
mkdir proj
cp api.c readme.c proj/
cat > proj/CMakeLists.txt <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(use_nwreg LANGUAGES C)
find_package(nwreg 0.1 REQUIRED)
add_executable(api api.c)
target_link_libraries(api PRIVATE nwreg::nwreg)
add_executable(api_static api.c)
target_link_libraries(api_static PRIVATE nwreg::nwreg_static)
add_executable(readme readme.c)
target_link_libraries(readme PRIVATE nwreg::nwreg)
CMAKE
cmake_project() {
    # $1 prefix to find nwreg in, $2 build directory
    cmake -S proj -B "$2" -DCMAKE_PREFIX_PATH="$1" -DCMAKE_C_FLAGS="$WARN" >"$2.log" 2>&1 &&
        cmake --build "$2" >>"$2.log" 2>&1 || { cat "$2.log"; return 1; }
}
check "find_package(nwreg): a CMake project configures and builds" cmake_project "$P" b1
check "find_package: nwreg::nwreg (shared) runs examples/api.c" \
    eval 'prints_optimum b1/api && uses_installed_so b1/api'
check "find_package: nwreg::nwreg_static runs examples/api.c" is_static b1/api_static
check "find_package: the README's example runs" prints_optimum b1/readme
check "find_package(nwreg 9.0) fails: the version is checked" \
    sh -c 'sed "s/nwreg 0.1 REQUIRED/nwreg 9.0 REQUIRED/" proj/CMakeLists.txt > p9 && mkdir proj9 && cp p9 proj9/CMakeLists.txt && cp proj/*.c proj9/ && ! cmake -S proj9 -B b9 -DCMAKE_PREFIX_PATH="$1" >/dev/null 2>&1' sh "$P"

# ---------------------------------------------------------- relocated
mv "$P" "$T/moved"
P=$T/moved
LIBDIR=$(dirname "$(find "$P" -name libnwreg.a | head -1)")
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig"
check "moved prefix: pkg-config's include path is in the moved tree" \
    eval '[ -f "$(pkg-config --variable=includedir nwreg)/nwreg.h" ] && pkg-config --cflags nwreg | grep -q moved'
check "moved prefix: pkg-config build of examples/api.c runs" pc_shared api.c api_moved
check "moved prefix: find_package(nwreg) builds and runs" \
    eval 'cmake_project "$P" b2 && prints_optimum b2/api && uses_installed_so b2/api'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
