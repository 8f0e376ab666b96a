/** The URL a stored file is fetched from; knowing it is the capability to read it. */
export const fileUrl = (fileId: string): string => `/files/${fileId}`;
