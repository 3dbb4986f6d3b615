/* Host platform: stdout, exit status from app_main. */
#include <stdio.h>

#include "platform.h"

void out_str(const char *s) { fputs(s, stdout); }

int main(void) { return app_main(); }
