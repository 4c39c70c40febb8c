using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;

namespace Proofsheet.Images;

/// <summary>A backend's answer read by <see cref="JsonImageReader"/>: the images, in the order they came, and the rest.</summary>
internal sealed class JsonImageAnswer(JsonDocument rest, List<ImageContent> images) : IDisposable
{
    /// <summary>The answer with each image string replaced by <c>""</c>, to parse as usual.</summary>
    public JsonDocument Rest { get; } = rest;

    /// <summary>The decoded images; whoever takes one out owns it (and disposes it).</summary>
    public List<ImageContent> Images { get; } = images;

    public void Dispose()
    {
        Rest.Dispose();
        foreach (var image in Images)
        {
            image.Dispose();
        }
    }
}

/// <summary>
/// Reads a JSON answer from a response body as it arrives. Strings at the image paths (e.g.
/// <c>$.images[]</c>, <c>$.data[].b64_json</c>) are base64-decoded in chunks into spool files
/// (<see cref="ImageContent"/>); every other token goes through <see cref="Utf8JsonReader"/> into a
/// small copy of the document. So a 25 MB image costs a few 64 KB buffers, not a 33 MB base64
/// string (67 MB as .NET text), its parsed document and the decoded array at once.
/// </summary>
/// <remarks>
/// <see cref="Utf8JsonReader"/> only returns whole tokens, so an image string is taken over by hand
/// from its opening quote; afterwards the reader is given <c>""</c> in its place, so that its state
/// (depth, "a comma comes next") stays right and the copy shows where the image was.
/// </remarks>
internal sealed class JsonImageReader
{
    private const int ChunkBytes = 64 * 1024;
    /// <summary>The largest single token outside the images (the reader needs a token whole).</summary>
    private const int MaxTokenBytes = 16 * 1024 * 1024;

    private readonly Stream _body;
    private readonly Func<string, bool> _isImagePath;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
    private int _start;
    private int _end;
    private bool _eof;

    // Where the reader is: one frame per open object or array, with its path and the last property name.
    private readonly List<Frame> _frames = [];
    private bool _afterPropertyName;
    private bool _placeholderNext;

    private JsonImageReader(Stream body, Func<string, bool> isImagePath)
    {
        _body = body;
        _isImagePath = isImagePath;
    }

    /// <exception cref="JsonException">The body is not JSON, or ends early.</exception>
    /// <exception cref="FormatException">An image string is not base64.</exception>
    public static async Task<JsonImageAnswer> ReadAsync(Stream body, Func<string, bool> isImagePath, CancellationToken ct)
    {
        var reader = new JsonImageReader(body, isImagePath);
        var images = new List<ImageContent>();
        try
        {
            return new JsonImageAnswer(await reader.RunAsync(images, ct), images);
        }
        catch
        {
            foreach (var image in images)
            {
                image.Dispose();
            }
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(reader._buffer);
        }
    }

    private async Task<JsonDocument> RunAsync(List<ImageContent> images, CancellationToken ct)
    {
        var output = new ArrayBufferWriter<byte>();
        var state = new JsonReaderState(new JsonReaderOptions { MaxDepth = 64 });
        using (var writer = new Utf8JsonWriter(output))
        {
            while (true)
            {
                var step = Step(_buffer.AsSpan(_start, _end - _start), ref state, writer, out var consumed, out var separator);
                _start += consumed;
                if (step == StepResult.Done)
                {
                    break;
                }
                if (step == StepResult.NeedMore)
                {
                    if (_eof)
                    {
                        throw new JsonException("The answer ends in the middle of its JSON.");
                    }
                    await FillAsync(ct);
                    continue;
                }
                var image = ImageContent.CreateSpool();
                images.Add(image);
                await DecodeStringAsync(image, ct);
                Prepend(separator == 0 ? "\"\""u8 : [separator, (byte)'"', (byte)'"']);
                _placeholderNext = true;
            }
        }
        return JsonDocument.Parse(output.WrittenMemory);
    }

    private enum StepResult { Done, NeedMore, ImageString }

    /// <summary>Copies whole tokens until the data runs out, the document ends or an image string begins
    /// (then <paramref name="consumed"/> is just past its opening quote, and <paramref name="separator"/> is the
    /// comma or colon skipped before it, to be given back to the reader with the placeholder).</summary>
    private StepResult Step(ReadOnlySpan<byte> data, ref JsonReaderState state, Utf8JsonWriter writer, out int consumed, out byte separator)
    {
        var reader = new Utf8JsonReader(data, _eof, state);
        separator = 0;
        while (true)
        {
            if (!_placeholderNext && NextValuePath() is { } path && _isImagePath(path))
            {
                // The separator before the value (a comma in an array; a colon, should the reader not have taken it).
                var p = SkipWhitespace(data, (int)reader.BytesConsumed);
                byte sawSeparator = 0;
                if (p < data.Length && data[p] is (byte)',' or (byte)':')
                {
                    sawSeparator = data[p];
                    p = SkipWhitespace(data, p + 1);
                }
                if (p >= data.Length && !_eof)
                {
                    consumed = (int)reader.BytesConsumed;
                    state = reader.CurrentState;
                    return StepResult.NeedMore;
                }
                if (p < data.Length && data[p] == (byte)'"')
                {
                    consumed = p + 1;
                    separator = sawSeparator;
                    state = reader.CurrentState;
                    return StepResult.ImageString;
                }
                // Not a string (null, a number, the array's end): the reader copies it and the caller judges it.
            }
            if (!reader.Read())
            {
                consumed = (int)reader.BytesConsumed;
                state = reader.CurrentState;
                return StepResult.NeedMore;
            }
            _placeholderNext = false;
            Copy(ref reader, writer);
            if (reader.CurrentDepth == 0 && reader.TokenType is not (JsonTokenType.StartObject or JsonTokenType.StartArray or JsonTokenType.PropertyName))
            {
                consumed = (int)reader.BytesConsumed;
                state = reader.CurrentState;
                return StepResult.Done;
            }
        }
    }

    private string? NextValuePath()
    {
        if (_frames.Count == 0)
        {
            return null;
        }
        var top = _frames[^1];
        return _afterPropertyName ? $"{top.Path}.{top.Property}" : top.IsArray ? $"{top.Path}[]" : null;
    }

    private void Copy(ref Utf8JsonReader reader, Utf8JsonWriter writer)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
            case JsonTokenType.StartArray:
                var isArray = reader.TokenType == JsonTokenType.StartArray;
                _frames.Add(new Frame(NextValuePath() ?? "$", isArray));
                _afterPropertyName = false;
                if (isArray)
                {
                    writer.WriteStartArray();
                }
                else
                {
                    writer.WriteStartObject();
                }
                return;
            case JsonTokenType.EndObject:
                _frames.RemoveAt(_frames.Count - 1);
                writer.WriteEndObject();
                break;
            case JsonTokenType.EndArray:
                _frames.RemoveAt(_frames.Count - 1);
                writer.WriteEndArray();
                break;
            case JsonTokenType.PropertyName:
                var name = reader.GetString()!;
                _frames[^1].Property = name;
                writer.WritePropertyName(name);
                _afterPropertyName = true;
                return;
            case JsonTokenType.String:
                if (reader.ValueIsEscaped)
                {
                    writer.WriteStringValue(reader.GetString());
                }
                else
                {
                    writer.WriteStringValue(reader.ValueSpan);
                }
                break;
            case JsonTokenType.Number:
                writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                break;
            case JsonTokenType.True:
            case JsonTokenType.False:
                writer.WriteBooleanValue(reader.TokenType == JsonTokenType.True);
                break;
            case JsonTokenType.Null:
                writer.WriteNullValue();
                break;
        }
        _afterPropertyName = false;
    }

    /// <summary>Decodes an image string from just past its opening quote through its closing quote, 48 KB at a time.</summary>
    private async Task DecodeStringAsync(ImageContent target, CancellationToken ct)
    {
        var chars = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        var bytes = ArrayPool<byte>.Shared.Rent(ChunkBytes / 4 * 3);
        try
        {
            var pending = 0;
            var closed = false;
            while (!closed)
            {
                var data = _buffer.AsSpan(_start, _end - _start);
                var taken = 0;
                while (taken < data.Length && pending < chars.Length)
                {
                    var rest = data[taken..];
                    var special = rest.IndexOfAny((byte)'"', (byte)'\\');
                    var plain = Math.Min(special < 0 ? rest.Length : special, chars.Length - pending);
                    rest[..plain].CopyTo(chars.AsSpan(pending));
                    pending += plain;
                    taken += plain;
                    if (plain < rest.Length && pending < chars.Length)
                    {
                        if (rest[plain] == (byte)'"')
                        {
                            taken++;
                            closed = true;
                            break;
                        }
                        // An escape: Python may send '/' as "\/", System.Text.Json sends '+' as "\u002B";
                        // line breaks are ignored, as base64 decoders ignore them.
                        if (plain + 1 >= rest.Length || rest[plain + 1] == (byte)'u' && plain + 5 >= rest.Length)
                        {
                            break; // the rest of the escape has not arrived yet
                        }
                        switch (rest[plain + 1])
                        {
                            case (byte)'/':
                                chars[pending++] = (byte)'/';
                                taken += 2;
                                break;
                            case (byte)'n' or (byte)'r':
                                taken += 2;
                                break;
                            case (byte)'u' when Utf8Parser.TryParse(rest.Slice(plain + 2, 4), out ushort code, out var used, 'X') && used == 4 && code < 0x80:
                                chars[pending++] = (byte)code;
                                taken += 6;
                                break;
                            default:
                                throw new FormatException("The image is not base64 (it contains an escaped character that base64 does not have).");
                        }
                    }
                }
                _start += taken;
                // Decode whole groups of four; the last group may carry '=' padding, so it waits for the end.
                var ready = closed ? pending : Math.Max(0, pending / 4 * 4 - 4);
                if (ready > 0 && (closed || pending >= chars.Length - 4))
                {
                    var status = Base64.DecodeFromUtf8(chars.AsSpan(0, ready), bytes, out var read, out var written, isFinalBlock: true);
                    if (status != OperationStatus.Done || read != ready)
                    {
                        throw new FormatException("The image is not base64.");
                    }
                    await target.AppendAsync(bytes.AsMemory(0, written), ct);
                    chars.AsSpan(ready, pending - ready).CopyTo(chars);
                    pending -= ready;
                }
                else if (closed && pending == 0 && target.Length == 0)
                {
                    throw new FormatException("The image is empty.");
                }
                if (!closed && _start == _end || !closed && taken == 0)
                {
                    if (_eof)
                    {
                        throw new JsonException("The answer ends in the middle of an image.");
                    }
                    await FillAsync(ct);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chars);
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>Keeps the unread bytes (moved to the front, the buffer doubled when one token fills it) and reads more.</summary>
    private async Task FillAsync(CancellationToken ct)
    {
        var kept = _end - _start;
        if (kept == _buffer.Length)
        {
            if (_buffer.Length >= MaxTokenBytes)
            {
                throw new JsonException($"A value in the answer is larger than {MaxTokenBytes / 1024 / 1024} MB.");
            }
            var bigger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(_start, kept).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        else if (_start > 0)
        {
            _buffer.AsSpan(_start, kept).CopyTo(_buffer);
        }
        _start = 0;
        _end = kept;
        var n = await _body.ReadAsync(_buffer.AsMemory(_end), ct);
        _end += n;
        _eof = n == 0;
    }

    /// <summary>Puts <paramref name="text"/> in front of the unread bytes.</summary>
    private void Prepend(ReadOnlySpan<byte> text)
    {
        if (_start < text.Length)
        {
            var kept = _end - _start;
            if (kept + text.Length > _buffer.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(kept + text.Length);
                _buffer.AsSpan(_start, kept).CopyTo(bigger.AsSpan(text.Length));
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
            }
            else
            {
                _buffer.AsSpan(_start, kept).CopyTo(_buffer.AsSpan(text.Length));
            }
            _start = text.Length;
            _end = text.Length + kept;
        }
        _start -= text.Length;
        text.CopyTo(_buffer.AsSpan(_start));
    }

    private static int SkipWhitespace(ReadOnlySpan<byte> data, int p)
    {
        while (p < data.Length && data[p] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            p++;
        }
        return p;
    }

    private sealed class Frame(string path, bool isArray)
    {
        public string Path { get; } = path;
        public bool IsArray { get; } = isArray;
        public string? Property { get; set; }
    }
}
