// The global ValidationPipe: unknown fields are refused (forbidNonWhitelisted), values are converted to the
// DTO's types, and failures become one 400 problem listing every field.
import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { invalidRequest } from './problem';

export interface FieldError {
  field: string;
  messages: string[];
}

function flatten(errors: ValidationError[], prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    if (e.constraints) out.push({ field, messages: Object.values(e.constraints) });
    if (e.children?.length) out.push(...flatten(e.children, field));
  }
  return out;
}

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => {
      const fields = flatten(errors);
      return invalidRequest(fields.map((f) => f.messages.join(', ')).join('; ') || 'invalid request', {
        errors: fields,
      });
    },
  });
}
