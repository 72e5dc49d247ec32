/*
 * Compile-check stand-in for the K230 MPP header mpi_sys_api.h (CanMV:
 * $(SDK_RTSMART_SRC_DIR)/mpp/userapps/api/; K230 SDK:
 * src/big/mpp/userapps/api/). Declarations only, with the SDK's types
 * (k_type.h), for the calls the shim's CANMV_K230 branch makes. Used by
 * scripts/riscv64-test.sh to compile micropython/modmultimedia.c with
 * -DCANMV_K230 and CanMV's compiler flags; never linked.
 */
#ifndef CANMV_RTSP_K230_STUB_MPI_SYS_API_H
#define CANMV_RTSP_K230_STUB_MPI_SYS_API_H

typedef unsigned int k_u32;
typedef int k_s32;
typedef unsigned long k_u64;

/* Maps `size` bytes at physical address `phy_addr` uncached; NULL on failure. */
void *kd_mpi_sys_mmap(k_u64 phy_addr, k_u32 size);
/* The same, cached (needs a cache invalidate before reading DMA'd data). */
void *kd_mpi_sys_mmap_cached(k_u64 phy_addr, k_u32 size);
/* Unmaps what kd_mpi_sys_mmap returned; 0 on success. */
k_s32 kd_mpi_sys_munmap(void *virt_addr, k_u32 size);

#endif
