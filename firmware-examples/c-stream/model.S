/* The model file, embedded verbatim (MODEL_FILE: a quoted path, from the build). */
    .section .rodata.ddaebm_model, "a"
    .balign 8
    .global ddaebm_model_start
    .global ddaebm_model_end
ddaebm_model_start:
    .incbin MODEL_FILE
ddaebm_model_end:
    .section .note.GNU-stack, "", %progbits
