import { z } from "zod";

/** `/api/views/<id>.json`: the parts vigil reads. */
export const viewMetadataSchema = z
  .object({
    id: z.string().optional(),
    name: z.string(),
    rowsUpdatedAt: z.number().int().optional().describe("When the rows last changed, epoch seconds"),
    viewLastModified: z.number().int().optional().describe("When the view definition last changed, epoch seconds"),
    columns: z.array(
      z
        .object({
          fieldName: z.string(),
          name: z.string(),
          dataTypeName: z.string(),
          description: z.string().optional(),
          position: z.number().optional(),
        })
        .loose(),
    ),
  })
  .loose();

export type ViewMetadata = z.infer<typeof viewMetadataSchema>;
