# The `multimedia` module for MicroPython's CMake-based ports:
#   cmake -DUSER_C_MODULES=<path to this file> ...
#
# The Rust staticlib comes from `make` (target/release/) or, in the board
# bundle that `make k230` writes (build/k230/), from beside this directory.
# -DCANMV_RTSP_LIB=/path/to/libcanmv_rtsp.a overrides both.

add_library(usermod_multimedia INTERFACE)

target_sources(usermod_multimedia INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/modmultimedia.c
)

get_filename_component(CANMV_RTSP_ROOT ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)

if(NOT CANMV_RTSP_LIB)
    if(EXISTS ${CANMV_RTSP_ROOT}/libcanmv_rtsp.a)
        set(CANMV_RTSP_LIB ${CANMV_RTSP_ROOT}/libcanmv_rtsp.a)
    else()
        set(CANMV_RTSP_LIB ${CANMV_RTSP_ROOT}/target/release/libcanmv_rtsp.a)
    endif()
endif()

# canmv_rtsp.h: include/ in the repository, the bundle's top directory in build/k230/.
target_include_directories(usermod_multimedia INTERFACE
    ${CANMV_RTSP_ROOT}/include
    ${CANMV_RTSP_ROOT}
)

# The server runs its own thread: the port must link the C library's pthreads.
target_link_libraries(usermod_multimedia INTERFACE ${CANMV_RTSP_LIB})

target_link_libraries(usermod INTERFACE usermod_multimedia)
