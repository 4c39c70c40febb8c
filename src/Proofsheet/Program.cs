using Proofsheet.Data;
using Proofsheet.Images;
using Proofsheet.Publishing;
using Proofsheet.Writing;

var builder = WebApplication.CreateBuilder(args);
builder.AddData();
builder.AddWriting();
builder.AddImages();
builder.AddPublishing();
var app = builder.Build();
app.Run();

public partial class Program;
