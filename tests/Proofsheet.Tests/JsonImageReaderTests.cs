using System.Text;
using System.Text.Json;
using Proofsheet.Images;
using Proofsheet.Testing;

namespace Proofsheet.Tests;

/// <summary>Backend answers are decoded as they arrive (<see cref="JsonImageReader"/>); these feed them a few bytes at a time.</summary>
public sealed class JsonImageReaderTests
{
    private static readonly Func<string, bool> A1111 = p => p == "$.images[]";
    private static readonly Func<string, bool> OpenAI = p => p == "$.data[].b64_json";

    [Fact]
    public async Task A_large_image_decodes_exactly_from_a_body_that_arrives_in_odd_pieces_and_the_rest_of_the_answer_is_kept()
    {
        var large = Png.Large(3L * 1024 * 1024);
        var small = Png.ForIndex(3);
        // Some JSON writers escape '/' as "\/"; the second image comes that way, after a line break and spaces.
        var json = "{ \"images\" : [ \"" + Convert.ToBase64String(large) + "\" ,\n  \""
            + Convert.ToBase64String(small).Replace("/", "\\/", StringComparison.Ordinal) + "\" ],"
            + " \"parameters\": {\"prompt\": \"a \\\"quoted\\\" lighthouse \\u00e9\", \"cfg\": 2.5e1, \"tiling\": false, \"mask\": null, \"images\": [\"not one of ours\"]},"
            + " \"info\": \"{\\\"all_seeds\\\": [7, 8]}\" }";

        for (var seed = 0; seed < 3; seed++)
        {
            using var answer = await JsonImageReader.ReadAsync(new Trickle(Encoding.UTF8.GetBytes(json), seed), A1111, CancellationToken.None);

            Assert.Equal(2, answer.Images.Count);
            Assert.Equal(large, answer.Images[0].ToArray());
            Assert.Equal(small, answer.Images[1].ToArray());
            Assert.Equal(large.AsSpan(0, ImageContent.HeadBytes).ToArray(), answer.Images[0].Head.ToArray());
            using var reread = new MemoryStream();
            await using (var read = answer.Images[0].OpenRead())
            {
                await read.CopyToAsync(reread);
            }
            Assert.Equal(large, reread.ToArray());
            var root = answer.Rest.RootElement;
            Assert.Equal(["", ""], root.GetProperty("images").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal("a \"quoted\" lighthouse é", root.GetProperty("parameters").GetProperty("prompt").GetString());
            Assert.Equal(25, root.GetProperty("parameters").GetProperty("cfg").GetDouble());
            Assert.Equal("not one of ours", root.GetProperty("parameters").GetProperty("images")[0].GetString());
            Assert.Equal("{\"all_seeds\": [7, 8]}", root.GetProperty("info").GetString());
        }
        Assert.Equal(0, ImageContent.OpenSpools);
    }

    [Fact]
    public async Task Escapes_that_System_Text_Json_writes_are_read_as_the_characters_they_stand_for()
    {
        // A .NET server's default encoder sends every '+' as "\u002B" (the AUTOMATIC1111 stand-in in the benchmarks does).
        var images = Enumerable.Range(1, 2).Select(i => Png.Render(256, i)).ToArray();
        var body = JsonSerializer.SerializeToUtf8Bytes(new { images = images.Select(Convert.ToBase64String).ToArray(), info = "{}" });
        Assert.True(body.AsSpan().IndexOf("\\u002B"u8) >= 0, "the body should carry escaped plus signs");

        using var answer = await JsonImageReader.ReadAsync(new Trickle(body, 2), A1111, CancellationToken.None);

        Assert.Equal(images, answer.Images.Select(i => i.ToArray()));
    }

    [Fact]
    public async Task OpenAI_answers_decode_each_b64_json_in_order_beside_entries_with_a_url()
    {
        var first = Png.ForIndex(1, size: 300);
        var second = Png.ForIndex(2, size: 200);
        var json = "{\"created\":1,\"data\":[{\"revised_prompt\":\"a lighthouse\",\"b64_json\":\"" + Convert.ToBase64String(first)
            + "\"},{\"url\":\"https://example.test/x.png\",\"b64_json\":null},{\"b64_json\":\"" + Convert.ToBase64String(second) + "\"}],\"usage\":{\"total_tokens\":10}}";

        using var answer = await JsonImageReader.ReadAsync(new Trickle(Encoding.UTF8.GetBytes(json), 1), OpenAI, CancellationToken.None);

        Assert.Equal([first, second], answer.Images.Select(i => i.ToArray()));
        var data = answer.Rest.RootElement.GetProperty("data");
        Assert.Equal("a lighthouse", data[0].GetProperty("revised_prompt").GetString());
        Assert.Equal("", data[0].GetProperty("b64_json").GetString());
        Assert.Equal(JsonValueKind.Null, data[1].GetProperty("b64_json").ValueKind);
        Assert.Equal(10, answer.Rest.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    public static TheoryData<string, Type> Malformed => new()
    {
        // A character base64 does not have, far into a large image (after several chunks were decoded and written).
        { "{\"images\":[\"" + Convert.ToBase64String(Png.Large(1024 * 1024)) + "*AAA\"]}", typeof(FormatException) },
        { "{\"images\":[\"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg\"]}", typeof(FormatException) },
        { "{\"images\":[\"AAA=AAAA\"]}", typeof(FormatException) },
        { "{\"images\":[\"QUJD\\u00e9AAA\"]}", typeof(FormatException) },
        { "{\"images\":[\"\"]}", typeof(FormatException) },
        { "{\"images\":[\"" + Convert.ToBase64String(Png.Large(1024 * 1024))[..500_000], typeof(JsonException) },
        { "{\"images\":[\"QUJD\"], \"info\": ", typeof(JsonException) },
        { "<html><body>502 Bad Gateway</body></html>", typeof(JsonException) },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public async Task A_malformed_answer_fails_with_a_clear_error_and_leaves_no_spool_file(string body, Type error)
    {
        var thrown = await Assert.ThrowsAnyAsync<Exception>(() =>
            JsonImageReader.ReadAsync(new Trickle(Encoding.UTF8.GetBytes(body), 5), A1111, CancellationToken.None));

        Assert.IsAssignableFrom(error, thrown);
        Assert.Equal(0, ImageContent.OpenSpools);
    }

    /// <summary>A body that hands out 1 to 9,000 bytes per read, as a network does.</summary>
    private sealed class Trickle(byte[] data, int seed) : Stream
    {
        private readonly Random _random = new(seed);
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, _random.Next(1, 9000)), data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset));
            _position += n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            await Task.Yield();
            var n = Math.Min(Math.Min(buffer.Length, _random.Next(1, 9000)), data.Length - _position);
            data.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override void Flush() => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
