/*
 * Bare-metal platform for QEMU mps2-an386 (Cortex-M4F): vector table, reset
 * handler (FPU on, .data copied, .bss zeroed), output and exit through Arm
 * semihosting (QEMU -semihosting-config enable=on,target=native). Exit
 * status: 0 when app_main returns 0, 1 on an error or a fault.
 */
#include <stdint.h>

#include "platform.h"

extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];

static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void out_str(const char *s) { semihost(0x04 /* SYS_WRITE0 */, s); }

static void __attribute__((noreturn)) semihost_exit(int status) {
    /* SYS_EXIT: ADP_Stopped_ApplicationExit (QEMU exits 0) or RunTimeErrorUnknown (1). */
    semihost(0x18, (const void *)(status == 0 ? 0x20026 : 0x20023));
    for (;;) {
    }
}

void Reset_Handler(void) {
    /* CPACR: full access to CP10 and CP11 (the FPU), before any float code. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    for (uint32_t *s = _sidata, *d = _sdata; d < _edata;) *d++ = *s++;
    for (uint32_t *d = _sbss; d < _ebss;) *d++ = 0;
    semihost_exit(app_main());
}

static void Fault_Handler(void) {
    out_str("FAULT: HardFault (the runtime's panic handler executes udf)\n");
    semihost_exit(1);
}

__attribute__((section(".isr_vector"), used)) static const void *const vectors[16] = {
    _estack, (const void *)Reset_Handler, (const void *)Fault_Handler, (const void *)Fault_Handler,
    (const void *)Fault_Handler, (const void *)Fault_Handler, (const void *)Fault_Handler,
};
